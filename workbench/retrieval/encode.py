"""Encoding queries for a column: always with the column's own pinned model, re-checked against the
column's canary vectors (never a vector from another space).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import DimensionMismatchError
from workbench.models.canary import CanaryPin, CanaryResult, require_canaries
from workbench.models.embedder import Embedder, require_own_model
from workbench.models.loading import load_embedder

if TYPE_CHECKING:
    from workbench.store.workspace import VectorColumn

__all__ = ["embedder_for", "encode_queries", "verify_column_model"]

log = logging.getLogger(__name__)


def embedder_for(column: VectorColumn, embedders: Mapping[str, Embedder] | None = None) -> Embedder:
    """The embedder for ``column``: an injected one (keyed by column name) or its pinned model.

    The model is re-checked against the column's canary vectors before it is returned.

    Raises:
        MixedIndexError: the injected embedder is not the model that wrote the column.
        FingerprintMismatchError: the model's canary vectors changed since the column was made.
    """
    embedder = (embedders or {}).get(column.name)
    if embedder is None:
        embedder = load_embedder(column.ref)
    else:
        require_own_model(embedder, column.ref, column=column.name)
    verify_column_model(column, embedder)
    return embedder


def verify_column_model(column: VectorColumn, embedder: Embedder) -> CanaryResult | None:
    """Re-check ``embedder`` against the canary vectors stored with ``column`` (once per embedder).

    Returns None for a column made before canaries were recorded (its local model is still
    verified by file hash at load).

    Raises:
        FingerprintMismatchError: the model no longer gives the column's canary vectors.
    """
    if not column.canaries:
        log.debug("column %s has no canary vectors; relying on its file fingerprint", column.name)
        return None
    return require_canaries(embedder, CanaryPin.from_json(column.canaries))


def encode_queries(
    embedder: Embedder, column: VectorColumn, texts: Sequence[str], *, batch_size: int = 64
) -> np.ndarray:
    """Encode ``texts`` with the column's model into a float32 ``(n, dim)`` matrix."""
    vectors = embedder.encode_queries(list(texts), batch_size=batch_size)
    if vectors.shape != (len(texts), column.dim):
        raise DimensionMismatchError(
            f"model {embedder.ref.name!r} returned query vectors of shape {vectors.shape}, "
            f"expected ({len(texts)}, {column.dim}) for column {column.name}"
        )
    return np.ascontiguousarray(vectors, dtype=np.float32)
