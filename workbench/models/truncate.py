"""Matryoshka truncation as a pin: the first ``dim`` values of a model's vectors, re-normalised.

A truncated model is a model of its own: ``truncate_dim`` is part of its identity and of its
column name (``vec__<slug>_d128__<fp8>``), so the truncated vectors never share a column with
the full ones, and ``embed`` builds the column like any other.

Example:
    >>> from workbench.models.catalog import CATALOG
    >>> truncated_pin(CATALOG["minilm-l6"], 128).column
    'vec__all_minilm_l6_v2_d128__91f7d483'
"""

from __future__ import annotations

import numpy as np

from workbench.errors import InvalidArgumentError
from workbench.models.ref import ModelRef

__all__ = ["check_truncation", "truncate_rows", "truncated_pin"]


def truncate_rows(vectors: np.ndarray, dim: int) -> np.ndarray:
    """The first ``dim`` values of each row, re-normalised to unit length (float32)."""
    cut = np.ascontiguousarray(np.asarray(vectors)[:, :dim], dtype=np.float32)
    return cut / np.maximum(np.linalg.norm(cut, axis=1, keepdims=True), 1e-12)


def check_truncation(dim: int, full_dim: int, *, what: str) -> int:
    """Refuse a truncation that is not a positive number below the full dimension.

    Raises:
        InvalidArgumentError: ``dim`` < 1 or ``dim`` > ``full_dim``.
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise InvalidArgumentError(f"truncation dimension must be a positive integer, got {dim!r}")
    if dim > full_dim:
        raise InvalidArgumentError(
            f"cannot truncate {what} to {dim} dimensions: it has only {full_dim}; "
            f"choose dimensions up to {full_dim} (e.g. 64, 128, 256)"
        )
    return dim


def truncated_pin(ref: ModelRef, dim: int) -> ModelRef:
    """The pin of ``ref`` truncated to its first ``dim`` values (normalised after truncation).

    Raises:
        InvalidArgumentError: ``dim`` is not below the model's full dimension, or ``ref`` is
            already truncated (truncate the full model instead).
    """
    if ref.truncate_dim is not None:
        raise InvalidArgumentError(
            f"{ref.pin} is already truncated to {ref.truncate_dim}; truncate the full model instead"
        )
    check_truncation(dim, ref.dim, what=ref.name)
    if dim == ref.dim:
        raise InvalidArgumentError(
            f"{dim} is the full dimension of {ref.name}; use the model itself, or choose fewer dimensions"
        )
    return ModelRef(**{**ref.model_dump(), "truncate_dim": dim, "dim": dim})
