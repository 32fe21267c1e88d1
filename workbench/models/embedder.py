"""The embedder protocol: what the workbench needs of any embedding model, local or served, and
the rule that a column's queries are encoded by the column's own pinned model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from workbench.errors import MixedIndexError
from workbench.models.ref import ModelRef

__all__ = ["Embedder", "require_own_model"]


@runtime_checkable
class Embedder(Protocol):
    """What the workbench needs of an embedding model."""

    ref: ModelRef

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Float32 matrix ``(len(texts), ref.dim)`` for documents."""
        ...

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Float32 matrix ``(len(texts), ref.dim)`` for queries."""
        ...


def require_own_model(embedder: Embedder, ref: ModelRef, *, column: str) -> None:
    """Refuse an embedder that is not the pinned model of ``column`` (never mix two spaces)."""
    if embedder.ref.fingerprint != ref.fingerprint or embedder.ref.truncate_dim != ref.truncate_dim:
        raise MixedIndexError(
            f"the embedder given for {column} is {embedder.ref.pin}, but the column belongs to "
            f"{ref.pin}: a column is written by its own model only, and queries must be encoded "
            "by the column's own model"
        )
