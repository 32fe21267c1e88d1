"""What a workspace holds: tables, rows, vector columns with pins, versions, tags, staleness."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypedDict

import pyarrow as pa

from workbench.contract import META_ACTIVE, META_SRC
from workbench.store.evalsets import EvalSetSummary, list_eval_sets
from workbench.store.health import count_problems
from workbench.store.index import describe_indexes
from workbench.store.production import production, unfinished
from workbench.store.workspace import VectorColumn, Workspace, vector_columns

if TYPE_CHECKING:
    from lance import LanceDataset

    from workbench.store.view import ReadableTable

__all__ = [
    "ColumnStatus",
    "TableStatus",
    "WorkspaceStatus",
    "column_health",
    "column_problems",
    "corpus_digest",
    "describe_version",
    "pinned_models",
    "table_status",
    "version_timeline",
    "workspace_status",
]


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
    index: str | None = None
    """The ANN index and its search parameters (``IVF_PQ nprobes=16 refine_factor=10``), or None."""
    unindexed_rows: int = 0
    """Rows written since the index was built, searched exactly beside it until it is updated."""
    progressive: bool = False
    """Filled progressively: ``missing_rows`` are the rows not embedded yet (expected)."""
    embedded_rows: int = 0
    """Rows with a vector (of ``TableStatus.rows``)."""


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
    production_version: int | None = None
    unfinished: list[str] = field(default_factory=list)


def column_health(table: ReadableTable, *, read_vectors: bool = True) -> dict[str, tuple[int, int]]:
    """Per vector column: ``(missing_rows, stale_rows)``, counted inside Lance (see :func:`column_problems`).

    Missing: no vector. Stale: the vector was computed from text whose hash differs from the
    row's current ``content_hash`` (the text changed after embedding).
    """
    dataset = table.to_lance()
    return {c.name: count_problems(dataset, c, read_vectors=read_vectors) for c in vector_columns(table)}


def table_status(table: ReadableTable) -> TableStatus:
    """Status of one table at its checked-out version; production is what the tag serves.

    The production column is read from the ``production`` tag (as serving reads it), never
    from the latest version's metadata, so a crashed promotion cannot make them disagree.
    Reads no vectors: health comes from the scalar hash columns (see :func:`column_problems`)
    and index coverage from the index metadata, so it stays fast at millions of rows.
    """
    current = production(table)
    active = current.column if current else None
    health = column_health(table, read_vectors=False)
    indexes = describe_indexes(table)
    rows = table.count_rows()
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
            index=indexes[c.name].describe() if c.name in indexes else None,
            unindexed_rows=indexes[c.name].unindexed_rows if c.name in indexes else 0,
            progressive=c.is_progressive,
            embedded_rows=rows - health[c.name][0],
        )
        for c in vector_columns(table)
    ]
    tags = {name: info["version"] for name, info in sorted(table.tags.list().items())}
    n_versions = len(table.list_versions())
    return TableStatus(
        table.name,
        rows,
        table.version,
        n_versions,
        columns,
        tags,
        active,
        current.version if current else None,
        unfinished(table),
    )


class WorkspaceStatus(TypedDict):
    """What :func:`workspace_status` returns: plain data, ready for JSON."""

    workspace: str
    config: str | None
    tables: list[dict[str, Any]]
    """``TableStatus`` of each corpus table, as dicts."""
    eval_sets: list[EvalSetSummary]


def workspace_status(ws: Workspace) -> WorkspaceStatus:
    """Everything ``workbench status`` shows, as plain data."""
    return WorkspaceStatus(
        workspace=ws.uri,
        config=str(ws.config_path) if ws.config_path else None,
        tables=[asdict(table_status(ws.view(n))) for n in ws.table_names()],
        eval_sets=list_eval_sets(ws),
    )


def version_timeline(table: ReadableTable) -> list[dict[str, object]]:
    """Every version of ``table``, oldest first: time, rows, tags and what the version changed.

    ``change`` is read from the transaction Lance records with each version (one small file
    per version, see :func:`describe_version`): ``created: 432 rows``, ``added column vec__…``,
    ``production → vec__…``, ``upsert: +3 rows, 1 changed``, ``deleted column vec__…``.
    """
    tags_by_version: dict[int, list[str]] = {}
    for name, info in table.tags.list().items():
        tags_by_version.setdefault(info["version"], []).append(name)
    dataset = table.to_lance()
    rows: list[dict[str, object]] = []
    previous: tuple[int, int] | None = None
    for entry in sorted(table.list_versions(), key=lambda v: v["version"]):
        version = entry["version"]
        count = int(entry.get("metadata", {}).get("total_rows", 0) or 0)
        rows.append(
            {
                "version": version,
                "timestamp": entry["timestamp"],
                "rows": count,
                "tags": sorted(tags_by_version.get(version, [])),
                "change": describe_version(dataset, version, rows=count, previous=previous),
            }
        )
        previous = (version, count)
    return rows


def describe_version(
    dataset: LanceDataset, version: int, *, rows: int, previous: tuple[int, int] | None = None
) -> str:
    """A short description of what one version changed, from its Lance transaction.

    Args:
        dataset: The table's Lance dataset (any version of it).
        version: The version to describe.
        rows: Its row count.
        previous: ``(version, rows)`` of the version listed before it (None for the first);
            row deltas and added or dropped columns are relative to it, since the version a
            transaction was based on may have been cleaned up.

    Returns:
        E.g. ``created: 432 rows``; ``unknown change`` when the transaction is gone.
    """
    try:
        transaction = dataset.read_transaction(version)
    except (OSError, RuntimeError, ValueError):  # a transaction file written by another Lance
        transaction = None
    if transaction is None:
        return "unknown change"
    operation = transaction.operation
    kind = type(operation).__name__
    delta = rows - previous[1] if previous else None  # unknown when the base was cleaned up
    if kind == "Overwrite":
        return f"{'created' if transaction.read_version == 0 else 'overwritten'}: {_rows(rows)}"
    if kind in ("Append", "Delete"):
        count = "" if delta is None else f": {_rows(delta, signed=True)}"
        predicate = getattr(operation, "predicate", None)
        where = f" ({predicate})" if predicate else ""
        return f"{kind.lower()}{count}{where}"
    if kind == "Update":
        return _describe_update(operation, delta)
    if kind in ("Merge", "Project"):
        verb = "added" if kind == "Merge" else "deleted"
        if previous is None:
            return f"{verb} columns (the version before was cleaned up)"
        before = dataset.checkout_version(previous[0]).schema
        return _describe_columns(verb, before, operation.schema.to_pyarrow())  # type: ignore[attr-defined]  # Merge/Project
    if kind == "UpdateConfig":
        return _describe_config(operation)
    return _OTHER_CHANGES.get(kind, kind)


_OTHER_CHANGES = {
    "CreateIndex": "index created",
    "Rewrite": "compacted",
    "Restore": "restored an older version",
    "DataReplacement": "column data replaced",
}


def _describe_update(operation: object, delta: int | None) -> str:
    """``upsert: +3 rows, 1 changed`` (merge-insert) or ``update: 2 rows changed``."""
    if delta is None:
        return "update"
    written = sum(f.physical_rows for f in getattr(operation, "new_fragments", []) or [])
    changed = max(written - max(delta, 0), 0)
    if delta > 0:
        return f"upsert: {_rows(delta, signed=True)}" + (f", {changed:,} changed" if changed else "")
    return f"update: {_rows(changed)} changed" if changed else "update"


def _rows(n: int, *, signed: bool = False) -> str:
    return (f"{n:+,}" if signed else f"{n:,}") + (" row" if abs(n) == 1 else " rows")


def _describe_columns(verb: str, before: pa.Schema, after: pa.Schema) -> str:
    """``added column vec__…`` / ``deleted column vec__…``; a vector's ``src__`` companion is implied."""
    changed = _fields_not_in(after, before) if verb == "added" else _fields_not_in(before, after)
    companions = {(f.metadata or {}).get(META_SRC.encode(), b"").decode() for f in changed}
    names = [f.name for f in changed if f.name not in companions]
    if not names:
        return "columns unchanged"
    return f"{verb} column{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _fields_not_in(schema: pa.Schema, other: pa.Schema) -> list[pa.Field]:
    return [f for f in schema if f.name not in other.names]


def _describe_config(operation: object) -> str:
    """``production → vec__…`` for a change of the active column; else what kind of metadata."""
    updates = getattr(getattr(operation, "schema_metadata_updates", None), "updates", None) or {}
    if META_ACTIVE in updates:
        return f"production → {updates[META_ACTIVE]}"
    if updates:
        return f"table metadata: {', '.join(sorted(updates))}"
    if getattr(operation, "field_metadata_updates", None):
        return "column metadata updated"
    return "configuration updated"


def corpus_digest(table: ReadableTable, *, like: str | None = None) -> str:
    """``v2:`` + a digest of the ``(id, content_hash)`` pairs: identifies the corpus content.

    Metadata-only versions (promotions, tags) leave it unchanged; any added, removed or
    edited document changes it. Comparisons record it so a gate can tell whether the
    evidence was gathered on the current data.

    Order-independent (the sum, modulo 2^256, of one sha256 per pair), so it is computed while
    streaming the two scalar columns in batches: memory does not grow with the table. ``like``
    a digest recorded before ``v2`` (sha256 over the pairs sorted by id), the old kind is
    computed instead, so older comparisons still match unchanged data.
    """
    import hashlib

    dataset = table.to_lance()
    if like is not None and not like.startswith(_DIGEST_V2):
        data = dataset.to_table(columns=["id", "content_hash"]).sort_by("id")
        legacy = hashlib.sha256()
        for batch in data.to_batches(max_chunksize=65536):
            ids = batch.column("id").to_pylist()
            hashes = batch.column("content_hash").to_pylist()
            legacy.update("".join(f"{i}\t{h}\n" for i, h in zip(ids, hashes, strict=True)).encode())
        return legacy.hexdigest()
    total = 0
    for batch in dataset.to_batches(columns=["id", "content_hash"], batch_size=65536, io_buffer_size=2**25):
        ids = batch.column("id").to_pylist()
        hashes = batch.column("content_hash").to_pylist()
        for i, h in zip(ids, hashes, strict=True):
            total += int.from_bytes(hashlib.sha256(f"{i}\t{h}".encode()).digest(), "big")
    return _DIGEST_V2 + format(total % (1 << 256), "064x")


_DIGEST_V2 = "v2:"


def column_problems(
    table: ReadableTable, column: VectorColumn, *, read_vectors: bool = True
) -> tuple[int, int]:
    """``(missing_rows, stale_rows)`` of one vector column, counted inside Lance.

    Both counts are filters pushed down into Lance, so no column is loaded into memory. With
    ``read_vectors=False`` a missing vector is detected from its ``src__`` column alone: the
    workbench writes a vector and the hash it was computed from together, so a row without a
    vector has no source hash either. That skips reading the vectors (1M × 384-d: about 0.06 s
    instead of 1.4 s); promotion uses it, serving start-up reads the vectors too. Counted once
    per table version (versions never change; see :mod:`workbench.store.health`).
    """
    return count_problems(table.to_lance(), column, read_vectors=read_vectors)


def pinned_models(
    ws: Workspace, *, table: ReadableTable | None = None, today: date | None = None
) -> list[dict[str, Any]]:
    """Every model alias the workspace knows (catalog + ``workbench.toml``), by alias.

    One listing for ``workbench models`` and the app: alias, ``builtin`` (from the catalog and
    not overridden in the config), the pin's fields (``sunset`` as ``YYYY-MM-DD``), ``days_left``
    until the sunset (None without one; ``today`` defaults to the UTC date), its ``column``, and
    — given a ``table`` — ``state`` in that table: ``production``, ``embedded`` or ``not embedded``.
    """
    from workbench.models.catalog import CATALOG

    today = today or datetime.now(UTC).date()

    present = set(table.schema.names) if table is not None else set()
    current = production(table) if table is not None else None
    active = current.column if current is not None else None  # what the production tag serves
    rows: list[dict[str, Any]] = []
    for alias, ref in sorted(ws.config.all_models().items()):
        row: dict[str, Any] = {
            "alias": alias,
            "builtin": alias in CATALOG and alias not in ws.config.models,
            **ref.model_dump(),
            "sunset": ref.sunset.isoformat() if ref.sunset else None,
            "days_left": ref.days_left(today),
            "column": ref.column,
        }
        if table is not None:
            row["state"] = (
                "production"
                if ref.column == active
                else ("embedded" if ref.column in present else "not embedded")
            )
        rows.append(row)
    return rows
