"""Ingest a corpus (and its queries and qrels) into a workspace, with dual-write.

A new corpus becomes a new table in one version. Ingesting into a table that already has
vector columns is a *dual-write*: new and changed documents are embedded with every live
column's pinned model in the same operation (one ``merge_insert``, one version), so no column
is left with missing or stale rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from workbench.contract import RESERVED_PREFIX, corpus_schema
from workbench.corpus.readers import (
    Collection,
    Qrels,
    beir_layout,
    check_empty_policy,
    collection_name,
    read_collection,
)
from workbench.corpus.stream import CorpusStream, EmptyPolicy, Fields
from workbench.embedding.batch import embed_batch, vector_schema
from workbench.errors import DataError, InvalidArgumentError
from workbench.models.embedder import Embedder
from workbench.progress import ProgressFn
from workbench.retrieval.encode import embedder_for
from workbench.store.evalsets import EvalSet, check_eval_set_table, save_eval_set
from workbench.store.index import update_indexes
from workbench.store.workspace import Workspace

__all__ = [
    "IngestResult",
    "check_name",
    "ingest",
    "ingest_collection",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_MAX_NAME = 200


@dataclass(frozen=True)
class IngestResult:
    """What an ingest wrote."""

    table: str
    rows_total: int
    rows_added: int
    rows_updated: int
    columns_refreshed: tuple[str, ...]
    eval_set: str | None
    n_queries: int
    n_judged: int
    version: int
    rows_skipped: int = 0
    qrels_dropped: int = 0
    rows_titled: int = 0

    @property
    def message(self) -> str:
        parts = [
            f"table {self.table!r}: {self.rows_total} documents "
            f"({self.rows_added} new, {self.rows_updated} changed), version {self.version}"
        ]
        if self.rows_skipped:
            parts.append(f"skipped {self.rows_skipped} document(s) with empty text")
        if self.rows_titled:
            parts.append(f"{self.rows_titled} document(s) embedded by their title (empty text)")
        if self.qrels_dropped:
            parts.append(f"dropped {self.qrels_dropped} judgement(s) of skipped documents")
        if self.columns_refreshed:
            parts.append(f"dual-wrote {', '.join(self.columns_refreshed)}")
        if self.eval_set:
            parts.append(f"eval set {self.eval_set!r}: {self.n_queries} queries, {self.n_judged} judged")
        return "; ".join(parts)


def check_name(name: str, what: str) -> str:
    """Refuse names LanceDB cannot store or that collide with the workbench's own tables."""
    if len(name) > _MAX_NAME:
        raise InvalidArgumentError(
            f"{what} name of {len(name)} characters is too long; use at most {_MAX_NAME} "
            "(file systems limit a file name to 255 bytes)"
        )
    if not _NAME.match(name) or name.startswith(RESERVED_PREFIX):
        raise InvalidArgumentError(
            f"{what} name {name!r} is not allowed: use letters, digits, '_', '-', '.', start "
            f"with a letter or digit, and do not start with {RESERVED_PREFIX!r}"
        )
    return name


def ingest(
    ws: Workspace,
    path: str | Path,
    *,
    table: str | None = None,
    eval_set: str | None = None,
    fields: Fields | None = None,
    split: str = "test",
    on_empty: EmptyPolicy = "error",
    embedders: Mapping[str, Embedder] | None = None,
    on_progress: ProgressFn | None = None,
    on_read: ProgressFn | None = None,
) -> IngestResult:
    """Read, validate, then write a corpus and its eval set; nothing is written on bad input.

    A new table is streamed from the file (memory flat in corpus size); new rows for an
    existing table are compared by content hash and dual-written.

    Args:
        ws: The workspace.
        path: A BEIR folder or a ``.jsonl`` / ``.csv`` / ``.parquet`` corpus file.
        table: Table name (default: the folder or file name).
        eval_set: Eval set name (default: the folder name). A name another table's eval set
            holds is refused before anything is written: an eval set belongs to its table.
        fields: Input column names (id, text, title).
        split: Which ``qrels/<split>.tsv`` of a BEIR folder to read.
        on_empty: Documents with empty text: ``"error"`` (refuse the input), ``"skip"``
            (leave them and their judgements out, counted in the result) or ``"title"``
            (embed the title instead).
        embedders: Already-loaded embedders by column name, for the dual-write.
        on_progress: Called with ``(rows_done, rows_total)`` while dual-writing.
        on_read: Called with ``(bytes_read, file_bytes)`` while a new table is streamed from a
            JSONL corpus.
    """
    path = Path(path)
    check_empty_policy(on_empty)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    name = check_name(table or _safe(collection_name(path)), "table")
    if eval_set is not None:  # refused even when the input has no queries to name
        check_name(eval_set, "eval set")
    if not ws.has_table(name):
        return _create_streamed(ws, path, name, eval_set, fields or Fields(), split, on_empty, on_read)
    collection = read_collection(path, fields=fields or Fields(), split=split, on_empty=on_empty)
    return ingest_collection(
        ws, collection, table=name, eval_set=eval_set, embedders=embedders, on_progress=on_progress
    )


def ingest_collection(
    ws: Workspace,
    collection: Collection,
    *,
    table: str | None = None,
    eval_set: str | None = None,
    embedders: Mapping[str, Embedder] | None = None,
    on_progress: ProgressFn | None = None,
) -> IngestResult:
    """Write an already-read :class:`Collection` (see :func:`ingest`)."""
    name = check_name(table or _safe(collection.name), "table")
    set_name = check_name(eval_set or _safe(collection.name), "eval set") if collection.queries else None
    if set_name is not None:
        check_eval_set_table(ws, set_name, name)
    corpus = collection.corpus
    if ws.has_table(name):
        added, updated, refreshed, version = _upsert(ws, name, corpus, embedders or {}, on_progress)
        total = ws.table(name).count_rows()
    else:
        created = ws.create_table(name, corpus)
        added, updated, refreshed, version = corpus.num_rows, 0, (), created.version
        total = corpus.num_rows
    n_judged = 0
    if set_name is not None:
        metadata = collection.query_metadata
        saved = save_eval_set(
            ws, EvalSet(set_name, name, collection.queries, collection.qrels, metadata=metadata)
        )
        n_judged = len(saved.judged_queries)
    return IngestResult(
        name,
        total,
        added,
        updated,
        refreshed,
        set_name,
        len(collection.queries),
        n_judged,
        version,
        rows_skipped=len(collection.skipped),
        qrels_dropped=collection.qrels_dropped,
        rows_titled=len(collection.titled),
    )


def _create_streamed(
    ws: Workspace,
    path: Path,
    name: str,
    eval_set: str | None,
    fields: Fields,
    split: str,
    on_empty: EmptyPolicy,
    on_read: ProgressFn | None = None,
) -> IngestResult:
    """A new table from a file or BEIR folder, streamed: memory flat in corpus size.

    The corpus is validated as it is written, in Arrow batches, into a staged table that only
    becomes the workspace's table (one atomic rename) once every row and the qrels passed; on
    bad input the error is the reader's own and nothing is written. An object-store workspace
    has no atomic rename, so there the file is read twice: validated first, then written.
    """
    layout = beir_layout(path, split=split) if path.is_dir() else None
    corpus_file = layout.corpus if layout is not None else path
    queries = layout.queries if layout is not None else {}
    set_name = check_name(eval_set or _safe(collection_name(path)), "eval set") if queries else None
    if set_name is not None:  # before the table is written: a refused name writes nothing
        check_eval_set_table(ws, set_name, name)

    def stream(report: ProgressFn | None) -> tuple[CorpusStream, Iterator[pa.RecordBatch]]:
        watch = layout.judged_documents if layout else ()
        corpus = CorpusStream(corpus_file, fields, on_empty, watch=watch, on_progress=report)

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from corpus.batches()
                if layout is not None:  # before the table is committed: nothing written if bad
                    checked.append(layout.checked_qrels(corpus.found, corpus.skipped))
            except Exception as exc:
                failures.append(exc)
                raise

        return corpus, batches()

    checked: list[tuple[Qrels, int]] = []
    failures: list[Exception] = []
    if not ws.is_local:
        for _ in stream(None)[1]:
            pass
    corpus, batches = stream(on_read)
    try:
        created = ws.create_table(name, _reader(batches))
    except Exception:
        if failures:  # LanceDB wrapped the reader's own error: raise that one
            raise failures[0] from None
        raise
    qrels, dropped = checked[-1] if checked else ({}, 0)
    n_judged = 0
    if set_name is not None:
        metadata = layout.query_metadata if layout is not None else {}
        saved = save_eval_set(ws, EvalSet(set_name, name, queries, qrels, metadata=metadata))
        n_judged = len(saved.judged_queries)
    return IngestResult(
        name,
        corpus.rows,
        corpus.rows,
        0,
        (),
        set_name,
        len(queries),
        n_judged,
        created.version,
        rows_skipped=len(corpus.skipped),
        qrels_dropped=dropped,
        rows_titled=len(corpus.titled),
    )


def _reader(batches: Iterator[pa.RecordBatch]) -> pa.RecordBatchReader:
    """``batches`` as an Arrow stream for LanceDB (which consumes it in Rust and turns an error
    raised by the generator into a ``RuntimeError``; the caller re-raises the original)."""
    return pa.RecordBatchReader.from_batches(corpus_schema(), batches)


def _upsert(
    ws: Workspace,
    name: str,
    corpus: pa.Table,
    embedders: Mapping[str, Embedder],
    on_progress: ProgressFn | None,
) -> tuple[int, int, tuple[str, ...], int]:
    """Insert new and update changed documents, embedding them for every vector column."""
    table = ws.table(name)
    current = table.to_lance().to_table(columns=["id", "content_hash"])
    known = dict(
        zip(
            current.column("id").to_pylist(),
            current.column("content_hash").to_pylist(),
            strict=True,
        )
    )
    ids = corpus.column("id").to_pylist()
    hashes = corpus.column("content_hash").to_pylist()
    changed = [i for i, (d, h) in enumerate(zip(ids, hashes, strict=True)) if known.get(d) != h]
    if not changed:
        return 0, 0, (), table.version
    rows = corpus.take(pa.array(changed))
    n_updated = sum(1 for i in changed if ids[i] in known)
    columns = ws.vector_columns(table)
    # Load (and verify) every model before writing anything.
    loaded = {c.name: embedder_for(c, embedders) for c in columns}
    data = rows
    for done, column in enumerate(columns):
        vectors = embed_batch(loaded[column.name], rows, vector_schema(column.ref), encode_batch=32)
        data = data.append_column(column.ref.column, vectors.column(1)).append_column(
            column.src_column, vectors.column(2)
        )
        if on_progress is not None:
            on_progress((done + 1) * rows.num_rows, len(columns) * rows.num_rows)
    data = _conform(data, table.schema)
    table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(data)
    update_indexes(table)  # the new rows join each column's ANN index (no retraining)
    return len(changed) - n_updated, n_updated, tuple(c.name for c in columns), table.version


def _conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """Order and type ``data`` like the table; refuse a table with columns we cannot fill."""
    missing = [f.name for f in schema if f.name not in data.column_names]
    if missing:
        raise DataError(f"the table has columns the input cannot fill: {', '.join(missing)}")
    return pa.table([pc.cast(data.column(f.name), f.type) for f in schema], schema=schema)


def _safe(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.-")
    return cleaned or "corpus"
