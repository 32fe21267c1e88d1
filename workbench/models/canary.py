"""Behavioural fingerprints: a fixed canary set embedded at pin time and re-checked before use.

A served model has no files to hash, and a local model's file hash misses a tokenizer or runtime
change. So every pinned model also carries the vectors it gave for a fixed set of 32 short texts
(domains, lengths, a few languages; shipped as ``canary_texts.json`` and itself hashed). Every
entry point that embeds or encodes queries re-embeds the canaries once per loaded embedder and
compares: the returned dimension must equal the pinned one, every canary's cosine to its pinned
vector must be at least the threshold (default 0.999), and the norms must match. A failure is a
:class:`~workbench.errors.FingerprintMismatchError` naming the model and the measured minimum.
A served embedder that passed is armed: from then on every request it sends carries one canary
(:meth:`workbench.models.served.ServedEmbedder.watch_canaries`), so weights that change
mid-run stop the run at the first request they answer.

Example:
    >>> pin = compute_canaries(embedder)  # doctest: +SKIP
    >>> verify_canaries(embedder, pin).passed  # doctest: +SKIP
    True
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import CanaryMismatchError, CorruptStateError
from workbench.models.verified import recall_canaries, remember_canaries

if TYPE_CHECKING:
    from workbench.models.embedder import Embedder

__all__ = [
    "DEFAULT_THRESHOLD",
    "NORM_TOLERANCE",
    "CanaryPin",
    "CanaryResult",
    "canary_texts",
    "canary_texts_sha256",
    "canary_threshold",
    "compute_canaries",
    "last_result",
    "recalled_result",
    "require_canaries",
    "verify_canaries",
]

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.999
"""Minimum cosine between a canary's pinned vector and its vector now."""
NORM_TOLERANCE = 1e-2
"""Largest allowed relative change of a canary vector's norm."""
_MEMO_ATTR = "_workbench_canary_result"


@cache
def canary_texts() -> tuple[str, ...]:
    """The fixed canary texts shipped with the package (never edited in place)."""
    raw = resources.files("workbench.models").joinpath("canary_texts.json").read_text(encoding="utf-8")
    return tuple(json.loads(raw)["texts"])


@cache
def canary_texts_sha256() -> str:
    """sha256 over the canary texts (one per line), recorded with every canary pin."""
    return hashlib.sha256("\n".join(canary_texts()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CanaryPin:
    """The canary vectors a model gave when it was pinned.

    Attributes:
        texts_sha256: Hash of the canary texts they were computed from.
        vectors: Float32 matrix ``(n_canaries, dim)``.
    """

    texts_sha256: str
    vectors: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def norms(self) -> np.ndarray:
        return np.linalg.norm(self.vectors.astype(np.float64), axis=1)

    def to_json(self) -> str:
        """Compact JSON (float16, base64): about 33 kB for 32 × 384."""
        data = np.ascontiguousarray(self.vectors, dtype="<f2").tobytes()
        return json.dumps(
            {
                "texts_sha256": self.texts_sha256,
                "shape": list(self.vectors.shape),
                "float16_b64": base64.b64encode(data).decode("ascii"),
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> CanaryPin:
        """Parse :meth:`to_json` output; damaged data is a ``CorruptStateError``."""
        try:
            data = json.loads(raw)
            shape = tuple(int(x) for x in data["shape"])
            flat = np.frombuffer(base64.b64decode(data["float16_b64"]), dtype="<f2")
            vectors = flat.astype(np.float32).reshape(shape)
            return cls(texts_sha256=str(data["texts_sha256"]), vectors=vectors)
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptStateError(
                f"stored canary vectors are unreadable ({exc}); re-pin the model"
            ) from exc

    def fingerprint_part(self) -> str:
        """A stable hash of these vectors (rounded to 3 decimals), for a served model's identity."""
        rounded = np.round(self.vectors.astype(np.float64), 3) + 0.0  # +0.0 folds -0.0 into 0.0
        return hashlib.sha256(self.texts_sha256.encode() + rounded.astype("<f8").tobytes()).hexdigest()


@dataclass(frozen=True)
class CanaryResult:
    """One re-check of a model's canaries.

    Attributes:
        model: The pin, ``name@revision#fingerprint``.
        min_cosine: Lowest cosine between a canary's pinned and current vector (-1.0 if the
            dimension changed, so nothing is comparable).
        dim: The dimension the model returns now.
        expected_dim: The pinned dimension.
        max_norm_change: Largest relative change of a canary vector's norm.
        threshold: The minimum cosine required.
        seconds: Time the check took (one batch of canaries).
        checked_at: When (ISO 8601, UTC).
        remembered: True if this is the memo of an earlier passing check of the same local
            model files with the same libraries (:mod:`workbench.models.verified`), not redone now.
    """

    model: str
    min_cosine: float
    dim: int
    expected_dim: int
    max_norm_change: float
    threshold: float
    seconds: float
    checked_at: str
    remembered: bool = False

    @property
    def passed(self) -> bool:
        return (
            self.dim == self.expected_dim
            and self.min_cosine >= self.threshold
            and self.max_norm_change <= NORM_TOLERANCE
        )

    @property
    def problem(self) -> str:
        """What failed, in words ('' when the check passed)."""
        if self.dim != self.expected_dim:
            return f"it returns {self.dim}-d vectors, the pin says {self.expected_dim}-d"
        if self.min_cosine < self.threshold:
            return f"minimum canary cosine {self.min_cosine:.4f} < threshold {self.threshold}"
        if self.max_norm_change > NORM_TOLERANCE:
            return f"canary vector norms changed by up to {self.max_norm_change:.1%}"
        return ""


def compute_canaries(embedder: Embedder) -> CanaryPin:
    """Embed the canary texts as documents: the behavioural fingerprint recorded at pin time."""
    vectors = embedder.encode_documents(list(canary_texts()), batch_size=len(canary_texts()))
    return CanaryPin(canary_texts_sha256(), np.ascontiguousarray(vectors, dtype=np.float32))


def canary_threshold(ref: object) -> float:
    """The minimum cosine a pin asks for (its ``canary_threshold``, else :data:`DEFAULT_THRESHOLD`)."""
    value = getattr(ref, "canary_threshold", None)
    return float(value) if value is not None else DEFAULT_THRESHOLD


def verify_canaries(embedder: Embedder, pin: CanaryPin, *, threshold: float | None = None) -> CanaryResult:
    """Re-embed the canaries and compare them with ``pin``; never raises on a mismatch.

    Args:
        embedder: The loaded model.
        pin: The canary vectors recorded when the model was pinned.
        threshold: Minimum cosine (default: the pin's ``canary_threshold``, else 0.999).

    Returns:
        A :class:`CanaryResult`; ``passed`` says whether the model still behaves as pinned.
    """
    if pin.texts_sha256 != canary_texts_sha256():
        raise CorruptStateError(
            "the stored canaries were computed from another canary set than this workbench "
            "ships; re-pin the model with this version"
        )
    limit = threshold if threshold is not None else canary_threshold(embedder.ref)
    start = time.perf_counter()
    mismatch: float | None = None
    try:
        now = compute_canaries(embedder).vectors.astype(np.float64)
    except CanaryMismatchError as exc:  # an armed served embedder's own canary failed first
        now, mismatch = np.empty((0, pin.dim)), exc.min_cosine
    seconds = time.perf_counter() - start
    old = pin.vectors.astype(np.float64)
    if mismatch is not None:
        min_cos, norm_change = mismatch, (0.0 if mismatch < limit else float("inf"))
    elif now.shape != old.shape:
        min_cos, norm_change = -1.0, float("inf")
    else:
        old_n, now_n = np.linalg.norm(old, axis=1), np.linalg.norm(now, axis=1)
        cos = np.sum(old * now, axis=1) / np.maximum(old_n * now_n, 1e-12)
        min_cos = float(np.min(cos))
        norm_change = float(np.max(np.abs(now_n - old_n) / np.maximum(old_n, 1e-12)))
    return CanaryResult(
        model=embedder.ref.pin,
        min_cosine=min_cos,
        dim=int(now.shape[1]) if now.ndim == 2 else 0,  # (0, pin.dim) after a mismatch: the pinned dim
        expected_dim=pin.dim,
        max_norm_change=norm_change,
        threshold=float(limit),
        seconds=seconds,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def require_canaries(embedder: Embedder, pin: CanaryPin, *, threshold: float | None = None) -> CanaryResult:
    """:func:`verify_canaries` once per loaded embedder; raise if the model changed.

    The result is remembered on the embedder object, so a process that keeps one embedder
    (a server, the app) checks once. A newly loaded local model whose files and libraries are
    unchanged since a check that passed reuses that check (:mod:`workbench.models.verified`);
    every other newly loaded embedder, and every served one, checks again.

    Raises:
        CanaryMismatchError: (a ``FingerprintMismatchError``) the model no longer gives its
            pinned canary vectors; nothing was written.
    """
    memo = getattr(embedder, _MEMO_ATTR, None)
    if isinstance(memo, CanaryResult) and memo.expected_dim == pin.dim:
        _watch(embedder, pin, memo.threshold)
        return memo
    state = getattr(embedder, "verified_state", None)  # set only by a local model's loader
    limit = threshold if threshold is not None else canary_threshold(embedder.ref)
    recalled = recalled_result(state, pin, limit)
    if recalled is not None:  # same files, same libraries as a check that passed: not redone
        with contextlib.suppress(AttributeError):
            setattr(embedder, _MEMO_ATTR, recalled)
        return recalled
    result = verify_canaries(embedder, pin, threshold=threshold)
    if not result.passed:
        raise CanaryMismatchError(
            f"model {embedder.ref.name!r} ({embedder.ref.pin}) failed its canary check: "
            f"{result.problem} (minimum cosine {result.min_cosine:.4f}). The model behind this "
            "pin changed (new weights, tokenizer or server). Nothing was written. Pin the changed "
            "model as a new model (`workbench models add NEW_ALIAS …`), embed it beside the old "
            "column and migrate to it.",
            min_cosine=result.min_cosine,
        )
    with contextlib.suppress(AttributeError):  # an embedder with __slots__ is checked every time
        setattr(embedder, _MEMO_ATTR, result)
    if state is not None:
        remember_canaries(state, _pin_key(pin, result.threshold), {**asdict(result), "remembered": False})
    _watch(embedder, pin, result.threshold)
    log.info(
        "canaries of %s verified: min cosine %.5f in %.2fs", result.model, result.min_cosine, result.seconds
    )
    return result


def recalled_result(state: str | None, pin: CanaryPin, threshold: float) -> CanaryResult | None:
    """The remembered passing check of the local model whose files are in ``state``, against
    ``pin`` at ``threshold`` (see :mod:`workbench.models.verified`), or None."""
    fields = recall_canaries(state, _pin_key(pin, threshold))
    if fields is None:
        return None
    try:
        result = replace(CanaryResult(**fields), remembered=True)
    except TypeError:
        return None
    return result if result.passed and result.expected_dim == pin.dim else None


def _pin_key(pin: CanaryPin, threshold: float) -> str:
    digest = hashlib.sha256(pin.vectors.tobytes()).hexdigest()
    return f"{pin.texts_sha256}|{digest}|{threshold!r}"


def _watch(embedder: Embedder, pin: CanaryPin, threshold: float) -> None:
    """Arm a served embedder: from now on each of its requests carries a canary (``models.served``)."""
    watch = getattr(embedder, "watch_canaries", None)
    if callable(watch):
        watch(pin, threshold=threshold)


def last_result(embedder: Embedder) -> CanaryResult | None:
    """The canary result remembered on ``embedder`` by :func:`require_canaries`, if any."""
    memo = getattr(embedder, _MEMO_ATTR, None)
    return memo if isinstance(memo, CanaryResult) else None
