"""Record tables: the workbench's own small LanceDB tables (eval sets, comparisons, history, ...).

One way to write and read them, so each record module only builds its rows (each table's
name and schema are in :mod:`workbench.contract`):
appends and upserts that create the table on first use (and survive another process creating
it first), and reads filtered by column equality through Arrow expressions, never by SQL text
built from user input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from workbench.contract import ADDED_COLUMNS
from workbench.errors import ConcurrentChangeError

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["append_records", "read_records", "record_version", "upsert_records"]


def append_records(ws: Workspace, name: str, rows: pa.Table) -> None:
    """Append ``rows`` to record table ``name``, creating it whole (one LanceDB version)."""
    if ws.has_table(name):
        _open_current(ws, name, rows).add(rows)
        return
    try:
        ws.create_table(name, rows)
    except (ConcurrentChangeError, ValueError):  # another process created it first
        ws.db.open_table(name).add(rows)


def upsert_records(ws: Workspace, name: str, rows: pa.Table, *, key: str) -> None:
    """Insert ``rows``, replacing those whose ``key`` already exists (one LanceDB version)."""
    if not ws.has_table(name):
        append_records(ws, name, rows)
        return
    table = _open_current(ws, name, rows)
    table.merge_insert(key).when_matched_update_all().when_not_matched_insert_all().execute(rows)


def _open_current(ws: Workspace, name: str, rows: pa.Table) -> Any:
    """Open record table ``name``, first adding (null) the columns of ``rows`` released after it
    was made (:data:`workbench.contract.ADDED_COLUMNS`), so an older workspace takes new rows."""
    table = ws.db.open_table(name)
    have = set(table.schema.names)
    missing = [
        rows.schema.field(c) for c in ADDED_COLUMNS.get(name, ()) if c in rows.schema.names and c not in have
    ]
    if missing:
        table.add_columns(missing)
    return table


def record_version(ws: Workspace, name: str) -> int:
    """The latest version of record table ``name`` (0 if it does not exist yet).

    Every append or upsert makes a new version, also from another process, so the number is a
    cache key for anything read from the table (the app keys its cached lists by it).
    """
    return int(ws.db.open_table(name).version) if ws.has_table(name) else 0


def read_records(
    ws: Workspace,
    name: str,
    *,
    columns: Sequence[str] | None = None,
    equals: Mapping[str, str] | None = None,
) -> pa.Table | None:
    """Rows of record table ``name`` whose columns equal ``equals`` (all rows if none); None if absent."""
    if not ws.has_table(name):
        return None
    condition = None
    for column, value in (equals or {}).items():
        term = pc.field(column) == pa.scalar(value)
        condition = term if condition is None else condition & term
    dataset = ws.dataset(name)
    return dataset.to_table(columns=list(columns) if columns is not None else None, filter=condition)
