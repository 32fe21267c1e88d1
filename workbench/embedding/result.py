"""What an embedding run reports, and the answer of a run whose column already exists.

Both engines return an :class:`EmbedResult`; both start with :func:`existing_column`, so a
column that is already there is never rewritten, whichever engine is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.contract import candidate_tag
from workbench.errors import (
    CanaryMismatchError,
    DimensionMismatchError,
    FingerprintMismatchError,
    MixedIndexError,
)
from workbench.models.ref import VECTOR_SETTINGS, ModelRef
from workbench.store.workspace import set_tag, vector_columns

if TYPE_CHECKING:
    from lancedb.table import Table

__all__ = ["EmbedResult", "discarded", "existing_column"]


@dataclass(frozen=True)
class EmbedResult:
    """What an embedding run did."""

    table: str
    column: str
    rows: int
    version: int
    tag: str
    created: bool
    resumed_rows: int
    seconds: float

    @property
    def message(self) -> str:
        if not self.created:
            return (
                f"{self.column} already exists in {self.table!r} (version {self.version}, "
                f"tag {self.tag}); nothing to do"
            )
        resumed = f", resumed after {self.resumed_rows} rows" if self.resumed_rows else ""
        return (
            f"added {self.column} to {self.table!r}: {self.rows} rows in {self.seconds:.1f}s"
            f"{resumed}; version {self.version}, tagged {self.tag}"
        )


def existing_column(table: Table, ref: ModelRef) -> EmbedResult | None:
    """If the column exists: a no-op result (re-tagging if a crash lost the tag).

    Raises:
        DimensionMismatchError: the column exists with another dimension.
        MixedIndexError: the column was embedded with other vector settings than ``ref``'s.
    """
    if ref.column not in table.schema.names:
        return None
    current = {c.name: c for c in vector_columns(table)}.get(ref.column)
    if current is None or current.ref.dim != ref.dim:
        have = table.schema.field(ref.column).type
        raise DimensionMismatchError(
            f"table {table.name!r} already has a column {ref.column!r} of type {have}, but the "
            f"model pins dim = {ref.dim}. A column is never rewritten with another shape: fix "
            f"the pin's dim, or retire the column first (`workbench retire {ref.column}`)."
        )
    changed = {
        name: (getattr(current.ref, name), getattr(ref, name))
        for name in VECTOR_SETTINGS
        if getattr(current.ref, name) != getattr(ref, name)
    }
    if changed:
        detail = ", ".join(f"{name} {old!r} → {new!r}" for name, (old, new) in changed.items())
        raise MixedIndexError(
            f"{ref.column} in {table.name!r} was embedded with other settings than this pin ({detail}); "
            "the same weights with other settings make other vectors, and one column never mixes "
            f"them. Keep the settings the column was made with, or retire it first (`workbench "
            f"retire {ref.column}`) and embed again."
        )
    tag = candidate_tag(ref.column)
    if tag not in table.tags.list():
        set_tag(table, tag, _first_version_with(table, ref.column))
    version = table.tags.get_version(tag)
    return EmbedResult(table.name, ref.column, table.count_rows(), version, tag, False, 0, 0.0)


def _first_version_with(table: Table, column: str) -> int:
    """The oldest version whose schema has ``column`` (walking back from the latest)."""
    first = table.version
    dataset = table.to_lance()
    for info in sorted(table.list_versions(), key=lambda v: v["version"], reverse=True):
        if column not in dataset.checkout_version(info["version"]).schema.names:
            break
        first = info["version"]
    return first


def discarded(exc: FingerprintMismatchError, rows: int) -> FingerprintMismatchError:
    """``exc`` (the model changed mid-run) saying what became of the run: both engines' words.

    The run's checkpoints are discarded and nothing is committed: rows computed by a model
    that is no longer the pinned one must never reach the column.
    """
    message = f"{exc} The run's {rows} checkpointed rows were discarded; nothing was committed."
    if isinstance(exc, CanaryMismatchError):
        return CanaryMismatchError(message, min_cosine=exc.min_cosine)
    return type(exc)(message)
