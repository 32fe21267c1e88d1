"""Progressive columns: a vector column filled batch by batch while the old one keeps serving.

A column is whole by default: an embedding run adds it in one version (see
:mod:`workbench.embedding.run`). A *progressive* column is the one exception: it is added empty
(every row null, the pin in its field metadata as usual, plus :data:`META_PROGRESSIVE`), then
filled one committed batch at a time (:mod:`workbench.embedding.progressive`); each batch is a
table version, and a row that has a vector has the one model's vector for its current text. A
completed run clears the marker and the column is an ordinary whole column.

This module reads and writes the marker and counts coverage (inside Lance, from the scalar
``src__`` column: the workbench writes a vector and its source hash together).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from workbench.contract import META_PROGRESSIVE
from workbench.errors import LifecycleError

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.store.view import ReadableTable
    from workbench.store.workspace import VectorColumn

__all__ = [
    "Coverage",
    "clear_progressive",
    "coverage",
    "covered_filter",
    "mark_progressive",
    "refuse_progressive",
    "uncovered_filter",
]


@dataclass(frozen=True)
class Coverage:
    """How much of a column is embedded at one table version."""

    column: str
    embedded: int
    total: int
    progressive: bool

    @property
    def share(self) -> float:
        """Embedded rows over all rows (1.0 for an empty table)."""
        return self.embedded / self.total if self.total else 1.0

    def describe(self) -> str:
        """``1,234 of 5,183 rows embedded (23.8%)``."""
        return f"{self.embedded:,} of {self.total:,} rows embedded ({100 * self.share:.1f}%)"


def covered_filter(column: VectorColumn) -> str:
    """The Lance filter selecting rows that have a vector in ``column``."""
    return f"{column.src_column} IS NOT NULL"


def uncovered_filter(column: VectorColumn) -> str:
    """The Lance filter selecting rows not embedded yet in ``column``."""
    return f"{column.src_column} IS NULL"


def coverage(table: ReadableTable, column: VectorColumn) -> Coverage:
    """Embedded rows of ``column`` out of all rows, at the handle's version (reads no vectors)."""
    dataset = table.to_lance()
    total = dataset.count_rows()
    embedded = dataset.count_rows(filter=covered_filter(column))
    return Coverage(column.name, embedded, total, column.is_progressive)


def mark_progressive(table: Table, column: str, info: dict[str, object]) -> None:
    """Record ``info`` (priority, coverage, time) as the column's progressive marker (one version)."""
    record = {**info, "updated_at": datetime.now(UTC).isoformat(timespec="seconds")}
    table.to_lance().update_field_metadata({column: {META_PROGRESSIVE: json.dumps(record, sort_keys=True)}})
    table.checkout_latest()


def clear_progressive(table: Table, column: str) -> None:
    """Make a completed progressive column an ordinary whole column (one version)."""
    table.to_lance().update_field_metadata({column: {META_PROGRESSIVE: ""}})
    table.checkout_latest()


def refuse_progressive(column: VectorColumn, *, action: str) -> None:
    """Refuse to treat a progressive column as a whole column (promote, the gate, serving).

    Raises:
        LifecycleError: ``column`` is progressive.
    """
    if column.is_progressive:
        raise LifecycleError(
            f"cannot {action} {column.name}: it is a progressive column (partly embedded), which can "
            f"only be served in transition mode; complete it first with `workbench embed --model "
            f"ALIAS` (the alias of {column.ref.name}, without --progressive)"
        )
