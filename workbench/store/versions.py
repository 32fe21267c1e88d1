"""Time travel over a corpus table: open it as it was at a version or tag, and diff schemas.

Every write to a LanceDB table makes a version; tags name versions. These helpers open a table
read-only at an older version (by number or by tag) and show which columns, with which model
pins, it had then versus now.

Example:
    >>> tag = candidate_tag(ws.model("minilm-l6").column)  # doctest: +SKIP
    >>> before = table_at(ws, "demo", previous_version(ws.table("demo"), tag))  # doctest: +SKIP
    >>> schema_changes(before, ws.table("demo"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.errors import NotFoundError
from workbench.store.workspace import vector_columns

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.store.workspace import Workspace

__all__ = ["columns_frame", "previous_version", "schema_changes", "table_at"]

_SCHEMA_COLUMNS = ["column", "kind", "type", "model", "dim"]


def table_at(ws: Workspace, table: str, version: int | str) -> Table:
    """Open ``table`` read-only as it was at ``version`` (a version number or a tag).

    A fresh handle is returned, so other handles on the table (and the workspace) keep
    reading the latest version. LanceDB refuses writes through it (``ValueError``) until
    ``checkout_latest()`` is called.

    Args:
        ws: The workspace.
        table: The corpus table name.
        version: A version number (``3``) or a tag (``"production"``,
            ``"candidate-vec__…"``).

    Returns:
        The table checked out at that version.

    Raises:
        NotFoundError: the table, version or tag does not exist (the message lists what does).
    """
    handle = ws.table(table)
    handle.checkout(_resolve_version(handle, version))
    return handle


def previous_version(table: Table, version: int | str) -> int:
    """The version just before ``version`` (a number or a tag) in ``table``'s history.

    Versions are looked up, not computed as ``version - 1``: a cleaned-up history has gaps.

    Raises:
        NotFoundError: the version or tag does not exist, or it is the oldest version kept.
    """
    number = _resolve_version(table, version)
    older = [v for v in _versions(table) if v < number]
    if not older:
        raise NotFoundError(f"version {number} is the oldest version of table {table.name!r} still kept")
    return max(older)


def _versions(table: Table) -> list[int]:
    return sorted(int(v["version"]) for v in table.list_versions())


def _resolve_version(table: Table, version: int | str) -> int:
    """A version number from a number or a tag, checked against the table's history."""
    if isinstance(version, str):
        tags = table.tags.list()
        if version not in tags:
            have = ", ".join(sorted(tags)) or "none"
            raise NotFoundError(f"table {table.name!r} has no tag {version!r}; tags: {have}")
        return int(tags[version]["version"])
    versions = _versions(table)
    if isinstance(version, bool) or not isinstance(version, int | np.integer) or version not in versions:
        raise NotFoundError(
            f"table {table.name!r} has no version {version!r}; versions: "
            f"{versions[0]}–{versions[-1]} ({len(versions)} kept)"
        )
    return int(version)


def columns_frame(table: Table) -> pd.DataFrame:
    """Every column of ``table`` at its checked-out version, with the pin of vector columns.

    Returns:
        One row per column: ``column``, ``kind`` (``data``, ``vector`` or ``source hash`` —
        the companion column that records which text each vector was computed from),
        ``type``, ``model`` (``name@revision#fingerprint`` for a vector column, else empty)
        and ``dim`` (``<NA>`` when not a vector column).
    """
    pins = {c.name: c for c in vector_columns(table)}
    sources = {c.src_column: c for c in pins.values()}
    rows = []
    for field in table.schema:
        column = pins.get(field.name) or sources.get(field.name)
        kind = "vector" if field.name in pins else "source hash" if field.name in sources else "data"
        rows.append(
            {
                "column": field.name,
                "kind": kind,
                "type": str(field.type),
                "model": column.ref.pin if column else "",
                "dim": column.dim if field.name in pins and column else None,
            }
        )
    return pd.DataFrame(rows, columns=_SCHEMA_COLUMNS).astype({"dim": "Int64"})


def schema_changes(before: Table, after: Table) -> pd.DataFrame:
    """Which columns ``after`` added or removed relative to ``before``.

    Both tables may be handles on different versions of the same table (see
    :func:`table_at`).

    Returns:
        :func:`columns_frame` rows of both versions plus a ``change`` column (``added``,
        ``removed`` or ``unchanged``), in the order of ``after`` then the removed ones.
    """
    old, new = columns_frame(before), columns_frame(after)
    old_names, new_names = set(old["column"]), set(new["column"])
    new = new.assign(change=["unchanged" if c in old_names else "added" for c in new["column"]])
    removed = old[~old["column"].isin(new_names)].assign(change="removed")
    return pd.concat([new, removed], ignore_index=True)
