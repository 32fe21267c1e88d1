"""One error hierarchy for the workbench.

Every error is a :class:`WorkbenchError` and also the matching builtin, so callers can catch
either. Messages say what was received, what is allowed, and how to fix it. The CLI turns a
``WorkbenchError`` into one line and exit code 2; the app into ``st.error``.

Naming rule: every class ends in ``Error``. The names of release 0.1 without the suffix
(``InvalidArgument``, ``NotFound``, ``FingerprintMismatch``, ...) remain as aliases of the same
classes, so existing ``except`` clauses keep working.
"""

from __future__ import annotations

__all__ = [
    "CanaryMismatchError",
    "ConcurrentChangeError",
    "ConfigError",
    "CorruptStateError",
    "DataError",
    "DimensionMismatch",
    "DimensionMismatchError",
    "FingerprintMismatch",
    "FingerprintMismatchError",
    "GateFailed",
    "GateFailedError",
    "InvalidArgument",
    "InvalidArgumentError",
    "LifecycleError",
    "MissingDependencyError",
    "MixedIndexError",
    "ModelNotFound",
    "ModelNotFoundError",
    "NotFound",
    "NotFoundError",
    "ServedModelError",
    "StaleColumnError",
    "UnpinnedModelError",
    "UnsafeWeightsError",
    "WorkbenchError",
    "WorkerLostError",
]


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class InvalidArgumentError(WorkbenchError, ValueError):
    """An argument is outside what is allowed (k <= 0, an unknown metric name, ...)."""


class ConfigError(WorkbenchError, ValueError):
    """The workspace configuration file is missing, malformed or inconsistent."""


class UnpinnedModelError(WorkbenchError, ValueError):
    """A model reference lacks an exact revision or uses a moving one such as ``latest``."""


class FingerprintMismatchError(WorkbenchError, ValueError):
    """The model files on disk do not match the pinned sha256 fingerprint."""


class ServedModelError(WorkbenchError, RuntimeError):
    """A served model (OpenAI-compatible or Ollama) failed: unreachable, refused the key, rate
    limited beyond the retry budget, or returned malformed vectors. Never contains the API key."""


class CanaryMismatchError(FingerprintMismatchError):
    """A model no longer gives its pinned canary vectors: same name, different behaviour."""

    def __init__(self, message: str, *, min_cosine: float = float("nan")) -> None:
        super().__init__(message)
        self.min_cosine = min_cosine

    def __reduce__(self) -> tuple[object, ...]:
        # picklable (a Ray worker raises it to the driver): the message, then the measured minimum
        return type(self), (str(self),), {"min_cosine": self.min_cosine}


class UnsafeWeightsError(WorkbenchError, ValueError):
    """Pickle weights (``*.bin``) were found and not explicitly allowed."""


class ModelNotFoundError(WorkbenchError, LookupError):
    """A model alias, package or directory cannot be found."""


class DataError(WorkbenchError, ValueError):
    """An input file (corpus, queries, qrels) is malformed; the message names file and line."""


class NotFoundError(WorkbenchError, LookupError):
    """A table, column, eval set, comparison or tag does not exist."""


class DimensionMismatchError(WorkbenchError, ValueError):
    """Vectors do not have the dimension of the column they are written to."""


class StaleColumnError(WorkbenchError, RuntimeError):
    """A vector column has rows whose text changed after embedding, or rows never embedded."""


class MixedIndexError(WorkbenchError, RuntimeError):
    """A query would be encoded by a model other than the one that wrote the column."""


class ConcurrentChangeError(WorkbenchError, RuntimeError):
    """Another writer changed the table while this operation ran; nothing was committed.

    Re-running the command is safe: it starts from the table as it now is.
    """


class CorruptStateError(WorkbenchError, RuntimeError):
    """Stored state is inconsistent (a checkpoint out of order, a tag naming a missing column,
    a damaged manifest); the message says what was found and how to repair it."""


class StorageError(WorkbenchError, OSError):
    """The disk refused a write (full, read-only, no permission); nothing was committed."""


class MissingDependencyError(WorkbenchError, ImportError):
    """An optional feature needs a package that is not installed; the message names the extra."""


class WorkerLostError(WorkbenchError, RuntimeError):
    """A distributed worker (or its node) died mid-job; finished work is kept for the rerun."""


class GateFailedError(WorkbenchError, RuntimeError):
    """A promotion gate refused a candidate; the message lists the failing checks.

    ``verdict`` is the gate's NO-GO or INCONCLUSIVE (None when there was no comparison).
    """

    def __init__(self, message: str, reasons: list[str] | None = None, *, verdict: str | None = None) -> None:
        super().__init__(message)
        self.reasons = list(reasons or [])
        self.verdict = verdict


class LifecycleError(WorkbenchError, RuntimeError):
    """A promotion, rollback or retirement is not possible in the current state."""


# Aliases: the 0.1 names, kept so that existing code catching them keeps working.
InvalidArgument = InvalidArgumentError
FingerprintMismatch = FingerprintMismatchError
ModelNotFound = ModelNotFoundError
NotFound = NotFoundError
DimensionMismatch = DimensionMismatchError
GateFailed = GateFailedError
