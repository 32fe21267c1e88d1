"""What a workspace holds: tables, rows, vector columns with pins, versions, tags, staleness."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from workbench.evalsets import list_eval_sets
from workbench.workspace import META_ACTIVE, VectorColumn, Workspace, table_metadata, vector_columns

if TYPE_CHECKING:
    from lancedb.table import Table


@dataclass(frozen=True)
class ColumnStatus:
    """One vector column: its pin and how many rows are missing or stale."""

    name: str
    model: str
    revision: str
    fingerprint: str
    dim: int
    created_at: str
    missing_rows: int
    stale_rows: int
    production: bool


@dataclass(frozen=True)
class TableStatus:
    """One corpus table."""

    name: str
    rows: int
    version: int
    n_versions: int
    columns: list[ColumnStatus]
    tags: dict[str, int]
    active_column: str | None


def column_health(table: Table) -> dict[str, tuple[int, int]]:
    """Per vector column: ``(missing_rows, stale_rows)``.

    Missing: no vector. Stale: the vector was computed from text whose hash differs from the
    row's current ``content_hash`` (the text changed after embedding).
    """
    columns = vector_columns(table)
    if not columns:
        return {}
    read = ["content_hash"] + [c for col in columns for c in (col.name, col.src_column)]
    data = table.to_lance().to_table(columns=read)
    health = {}
    for col in columns:
        missing = data.column(col.name).null_count
        same = pc.equal(data.column(col.src_column), data.column("content_hash"))
        stale = int(pc.sum(pc.invert(pc.fill_null(same, True))).as_py() or 0)
        health[col.name] = (missing, stale)
    return health


def table_status(table: Table) -> TableStatus:
    """Status of one table at its checked-out version."""
    active = table_metadata(table).get(META_ACTIVE)
    health = column_health(table)
    columns = [
        ColumnStatus(
            name=c.name,
            model=c.ref.name,
            revision=c.ref.revision,
            fingerprint=c.ref.fingerprint,
            dim=c.dim,
            created_at=c.created_at,
            missing_rows=health[c.name][0],
            stale_rows=health[c.name][1],
            production=c.name == active,
        )
        for c in vector_columns(table)
    ]
    tags = {name: info["version"] for name, info in sorted(table.tags.list().items())}
    n_versions = len(table.list_versions())
    return TableStatus(table.name, table.count_rows(), table.version, n_versions, columns, tags, active)


def workspace_status(ws: Workspace) -> dict[str, object]:
    """Everything ``workbench status`` shows, as plain data."""
    return {
        "workspace": ws.uri,
        "config": str(ws.config_path) if ws.config_path else None,
        "tables": [asdict(table_status(ws.table(n))) for n in ws.table_names()],
        "eval_sets": list_eval_sets(ws),
    }


def version_timeline(table: Table) -> list[dict[str, object]]:
    """Every version of ``table`` with its time and the tags on it, oldest first."""
    tags_by_version: dict[int, list[str]] = {}
    for name, info in table.tags.list().items():
        tags_by_version.setdefault(info["version"], []).append(name)
    rows = []
    for info in sorted(table.list_versions(), key=lambda v: v["version"]):
        rows.append(
            {
                "version": info["version"],
                "timestamp": info["timestamp"],
                "rows": int(info.get("metadata", {}).get("total_rows", 0) or 0),
                "tags": sorted(tags_by_version.get(info["version"], [])),
            }
        )
    return rows


def corpus_digest(table: Table) -> str:
    """sha256 over the sorted ``(id, content_hash)`` pairs: identifies the corpus content.

    Metadata-only versions (promotions, tags) leave it unchanged; any added, removed or
    edited document changes it. Comparisons record it so a gate can tell whether the
    evidence was gathered on the current data.
    """
    import hashlib

    data = table.to_lance().to_table(columns=["id", "content_hash"]).sort_by("id")
    digest = hashlib.sha256()
    for batch in data.to_batches(max_chunksize=65536):
        ids = batch.column("id").to_pylist()
        hashes = batch.column("content_hash").to_pylist()
        digest.update("".join(f"{i}\t{h}\n" for i, h in zip(ids, hashes, strict=True)).encode())
    return digest.hexdigest()


def column_problems(table: Table, column: VectorColumn, *, read_vectors: bool = True) -> tuple[int, int]:
    """``(missing_rows, stale_rows)`` of one vector column, counted inside Lance.

    The single-column, pushed-down form of :func:`column_health`, for a gate or a start-up
    check on a large table. With ``read_vectors=False`` a missing vector is detected from its
    ``src__`` column alone: the workbench writes a vector and the hash it was computed from
    together, so a row without a vector has no source hash either. That skips reading the
    vectors (1M × 384-d: about 0.06 s instead of 1.4 s); promotion uses it, serving start-up
    reads the vectors too.
    """
    dataset = table.to_lance()
    missing = f"{column.name} IS NULL" if read_vectors else f"{column.src_column} IS NULL"
    stale = f"{column.src_column} IS NOT NULL AND {column.src_column} != content_hash"
    return dataset.count_rows(filter=missing), dataset.count_rows(filter=stale)
