"""Filling a progressive column: batch by batch, each batch one table version, by priority.

A whole column (:mod:`workbench.embedding.run`) appears in one version; a corpus too large to
re-embed before any query sees the new model is filled *progressively* instead:

1. the column is added empty in one version (every row null; the pin in its field metadata
   and the :data:`~workbench.contract.META_PROGRESSIVE` marker);
2. the rows not embedded yet are ordered by a priority (:func:`priority_order`): ``random``,
   ``new-first`` (the rows appended or rewritten most recently first) or ``query-log`` (the
   documents production returned most often, from the opt-in query log, first);
3. each batch is read, embedded by the pinned model (its canaries re-checked before every
   commit) and written with one ``merge_insert`` that only fills rows still null and whose text
   is the text embedded (a row changed meanwhile is left for a later batch): one version per
   batch, so a reader at any version sees each row either null or with the one model's vector
   of its current text;
4. the run stops at a budget (rows, or dollars for a priced served model) and records the
   coverage in the marker, or, once every row is embedded, clears the marker: the column is an
   ordinary whole column, tagged ``candidate-<column>`` like any other.

There are no checkpoint files: every committed batch is the checkpoint. A run killed at any
point (``kill -9``) loses at most the batch it was embedding; rerunning resumes with the rows
still null. Ingest's dual-write fills new and changed documents of a progressive column at once.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa

from workbench.contract import META_PROGRESSIVE, candidate_tag
from workbench.embedding.batch import READ_COLUMNS, embed_batch, vector_schema
from workbench.embedding.checkpoint import exclusive_run
from workbench.embedding.pin_check import still_the_pinned_model
from workbench.errors import InvalidArgumentError
from workbench.killpoints import reached
from workbench.models.canary import CanaryPin, require_canaries
from workbench.models.embedder import Embedder, require_own_model
from workbench.models.loading import load_embedder
from workbench.models.ref import ModelRef
from workbench.progress import ProgressFn
from workbench.store.canaries import canaries_for, record_check
from workbench.store.progressive import clear_progressive, coverage, mark_progressive, uncovered_filter
from workbench.store.query_log import returned_counts
from workbench.store.workspace import VectorColumn, Workspace, set_tag, vector_columns

if TYPE_CHECKING:
    from lancedb.table import Table

__all__ = ["PRIORITIES", "Priority", "ProgressiveResult", "embed_progressive", "priority_order"]

log = logging.getLogger(__name__)

Priority = Literal["random", "new-first", "query-log"]
PRIORITIES: tuple[str, ...] = ("random", "new-first", "query-log")


@dataclass(frozen=True)
class ProgressiveResult:
    """What one progressive run did.

    Attributes:
        table: The corpus table.
        column: The progressive column.
        rows_embedded: Rows this run embedded.
        embedded: Rows with a vector after the run.
        total: Rows of the table.
        version: The table version after the run.
        batches: Batches committed by this run (one version each).
        complete: True when every row is embedded: the column is now a whole column.
        stopped_by: ``"complete"``, ``"budget"`` (rows or dollars) or ``"empty"`` (nothing to do).
        seconds: Wall time of the run.
    """

    table: str
    column: str
    rows_embedded: int
    embedded: int
    total: int
    version: int
    batches: int
    complete: bool
    stopped_by: str
    seconds: float

    @property
    def coverage(self) -> float:
        return self.embedded / self.total if self.total else 1.0

    @property
    def message(self) -> str:
        state = (
            "complete: now a whole column"
            if self.complete
            else f"progressive, stopped by the {self.stopped_by}; rerun to continue"
        )
        return (
            f"{self.column} on {self.table!r}: embedded {self.rows_embedded:,} rows in {self.batches} "
            f"batch(es); {self.embedded:,} of {self.total:,} rows ({100 * self.coverage:.1f}%), "
            f"version {self.version}; {state}"
        )


def embed_progressive(
    ws: Workspace,
    table_name: str,
    ref: ModelRef,
    *,
    embedder: Embedder | None = None,
    priority: Priority = "random",
    budget_rows: int | None = None,
    budget_usd: float | None = None,
    batch_size: int = 256,
    encode_batch: int = 32,
    seed: int = 0,
    on_progress: ProgressFn | None = None,
) -> ProgressiveResult:
    """Fill ``ref``'s progressive column of ``table_name`` by ``priority`` (see the module docstring).

    Starts the column when it does not exist; resumes it when it is progressive; a whole
    column is left as it is.

    Args:
        ws: The workspace.
        table_name: The corpus table.
        ref: The pinned model; its column is ``ref.column``.
        embedder: An already-loaded embedder for ``ref`` (loaded and verified if omitted).
        priority: Which rows first: ``random``, ``new-first`` or ``query-log``.
        budget_rows: Stop after this many rows (None: no limit).
        budget_usd: Stop before the estimated cost exceeds this (a served model with a price).
        batch_size: Rows per committed batch (one table version each).
        encode_batch: Rows per forward pass of the model.
        seed: Seed of the ``random`` order (and of the order among rows of equal priority).
        on_progress: Called with ``(rows_embedded_now, rows_to_embed)``.

    Raises:
        InvalidArgumentError: an unknown priority, a budget < 0, a dollar budget for a model
            without a price, or ``batch_size`` < 1.
        ConcurrentChangeError: another process is embedding this column now.
        CanaryMismatchError: the model changed behind its pin; nothing more is committed.
    """
    _check_options(ref, priority, budget_rows, budget_usd, batch_size)
    if embedder is not None:
        require_own_model(embedder, ref, column=ref.column)
    ws.table(table_name)  # a missing table is named before the run is claimed
    start = time.perf_counter()
    with exclusive_run(ws.state_dir, table_name, ref.column):
        table = ws.table(table_name)
        existing = _column(table, ref.column)
        if existing is not None and not existing.is_progressive:
            return _result(table, existing, 0, 0, "complete", start)
        model = embedder if embedder is not None else load_embedder(ref)
        pinned = canaries_for(ws, ref, model)
        record_check(ws, ref.column, require_canaries(model, pinned), context="embed")
        if existing is None:
            existing = _add_empty_column(table, ref, pinned, priority)
        order = priority_order_for(ws, table, existing, priority, seed=seed)
        limit = len(order) if budget_rows is None else min(budget_rows, len(order))
        done = batches = 0
        stopped = "complete"
        for ids in _batches(order, batch_size, limit):
            if budget_usd is not None and not _affordable(model, ref, table, ids, budget_usd):
                stopped = "budget"
                break
            done += _commit_batch(table, existing, model, pinned, ids, encode_batch)
            batches += 1
            reached("progressive:committed")
            if on_progress is not None:
                on_progress(done, limit)
        if limit < len(order) and stopped == "complete":
            stopped = "budget"
        return _finish(table, existing, priority, done, batches, stopped, start)


def _check_options(
    ref: ModelRef, priority: str, budget_rows: int | None, budget_usd: float | None, batch_size: int
) -> None:
    if priority not in PRIORITIES:
        raise InvalidArgumentError(f"unknown priority {priority!r}; priorities: {', '.join(PRIORITIES)}")
    if budget_rows is not None and budget_rows < 0:
        raise InvalidArgumentError(f"--budget must be 0 or more rows, got {budget_rows}")
    if budget_usd is not None:
        if not math.isfinite(budget_usd) or budget_usd < 0:
            raise InvalidArgumentError(f"--budget-usd must be 0 or more dollars, got {budget_usd}")
        if ref.serving is None or ref.serving.price_per_million_tokens is None:
            raise InvalidArgumentError(
                f"--budget-usd needs a served model with a price; {ref.name!r} has none: use "
                "--budget ROWS, or pin the model with --price-per-million-tokens"
            )
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be at least 1, got {batch_size}")


def _column(table: Table, name: str) -> VectorColumn | None:
    return next((c for c in vector_columns(table) if c.name == name), None)


def _add_empty_column(table: Table, ref: ModelRef, pinned: CanaryPin, priority: str) -> VectorColumn:
    """Add the column and its ``src__`` companion, all null, marked progressive (one version)."""
    import json

    schema = vector_schema(ref, canaries=pinned.to_json())
    vector = schema.field(1)
    marker = json.dumps({"priority": priority, "embedded": 0, "total": table.count_rows()}, sort_keys=True)
    vector = vector.with_metadata({**(vector.metadata or {}), META_PROGRESSIVE.encode(): marker.encode()})
    table.add_columns(pa.schema([vector, schema.field(2)]))
    table.checkout_latest()
    reached("progressive:created")
    column = _column(table, ref.column)
    if column is None:  # pragma: no cover - add_columns keeps field metadata (lancedb 0.40)
        raise RuntimeError(f"column {ref.column} lost its pin when it was added")
    log.info("added progressive column %s to %s at version %d", ref.column, table.name, table.version)
    return column


def priority_order_for(
    ws: Workspace, table: Table, column: VectorColumn, priority: str, *, seed: int = 0
) -> list[str]:
    """The ids of ``table``'s rows not embedded in ``column`` yet, in ``priority`` order."""
    data = table.to_lance().to_table(columns=["id"], filter=uncovered_filter(column), with_row_address=True)
    ids = data.column("id").to_pylist()
    counts = returned_counts(ws, table.name) if priority == "query-log" else {}
    positions = data.column("_rowaddr").to_numpy()
    return [ids[i] for i in priority_order(ids, positions, priority, seed=seed, counts=counts)]


def priority_order(
    ids: Sequence[str],
    positions: np.ndarray,
    priority: str,
    *,
    seed: int = 0,
    counts: dict[str, float] | None = None,
) -> np.ndarray:
    """Indices into ``ids`` in the order a progressive run embeds them.

    Args:
        ids: Document ids.
        positions: Each row's Lance row address (appended and rewritten rows have the highest).
        priority: ``random`` (a seeded hash order: the same on every resume), ``new-first``
            (highest row address first) or ``query-log`` (most often returned first, by
            ``counts``; the others after, in the random order).
        seed: Seed of the random order, which also breaks ties of the other two.
        counts: Query-log weight per document id.
    """
    if priority not in PRIORITIES:
        raise InvalidArgumentError(f"unknown priority {priority!r}; priorities: {', '.join(PRIORITIES)}")
    shuffle = np.array([_hash_rank(doc, seed) for doc in ids], dtype=np.uint64)
    if priority == "random" or not len(ids):
        return np.argsort(shuffle, kind="stable")
    if priority == "new-first":
        return np.lexsort((shuffle, -np.asarray(positions, dtype=np.float64)))
    weights = np.array([(counts or {}).get(doc, 0.0) for doc in ids], dtype=np.float64)
    return np.lexsort((shuffle, -weights))


def _hash_rank(doc: str, seed: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{doc}".encode(), digest_size=8).digest(), "big")


def _batches(order: list[str], batch_size: int, limit: int) -> Iterator[list[str]]:
    for start in range(0, limit, batch_size):
        yield order[start : min(start + batch_size, limit)]


def _sql_ids(ids: Sequence[str]) -> str:
    return ", ".join("'" + doc.replace("'", "''") + "'" for doc in ids)


def _commit_batch(
    table: Table,
    column: VectorColumn,
    model: Embedder,
    pinned: CanaryPin,
    ids: Sequence[str],
    encode_batch: int,
) -> int:
    """Embed the rows ``ids`` that are still null and write them in one version; rows written."""
    where = f"id IN ({_sql_ids(ids)}) AND {uncovered_filter(column)}"
    rows = table.to_lance().to_table(columns=READ_COLUMNS, filter=where)
    if rows.num_rows == 0:
        return 0
    schema = vector_schema(column.ref)
    embedded = embed_batch(model, rows, schema, encode_batch=encode_batch)
    still_the_pinned_model(model, column.ref, pinned)  # never commit another model's vectors
    reached("progressive:embedded")
    data = pa.Table.from_batches([embedded]).rename_columns(["id", column.name, column.src_column])
    # Only rows still null whose text is the text embedded: a concurrent ingest's vector wins.
    condition = f"target.{column.src_column} IS NULL AND target.content_hash = source.{column.src_column}"
    table.merge_insert("id").when_matched_update_all(where=condition).execute(data)
    table.checkout_latest()
    return rows.num_rows


def _affordable(model: Embedder, ref: ModelRef, table: Table, ids: Sequence[str], budget_usd: float) -> bool:
    """Whether the next batch fits in the dollar budget: the tokens spent so far plus the batch's
    estimated tokens (about 4 characters a token, as the served models' tokenizers average)."""
    usage = getattr(model, "usage", None)
    price = ref.serving.price_per_million_tokens if ref.serving is not None else None
    if usage is None or price is None:
        return True
    rows = table.to_lance().to_table(columns=["title", "text"], filter=f"id IN ({_sql_ids(ids)})")
    chars = sum(
        len(t or "") + len(x or "") for t, x in zip(*(c.to_pylist() for c in rows.columns), strict=True)
    )
    return (usage.tokens + chars / 4) * price / 1e6 <= budget_usd


def _finish(
    table: Table,
    column: VectorColumn,
    priority: str,
    done: int,
    batches: int,
    stopped: str,
    start: float,
) -> ProgressiveResult:
    covered = coverage(table, column)
    if covered.embedded == covered.total:
        clear_progressive(table, column.name)
        reached("progressive:completed")
        set_tag(table, candidate_tag(column.name), table.version)
        log.info("%s on %s is complete: a whole column at version %d", column.name, table.name, table.version)
        whole = _column(table, column.name) or column
        return _result(table, whole, done, batches, "complete", start)
    if batches:
        info = {"priority": priority, "embedded": covered.embedded, "total": covered.total}
        mark_progressive(table, column.name, info)
    return _result(table, column, done, batches, stopped if done or batches else "empty", start)


def _result(
    table: Table, column: VectorColumn, done: int, batches: int, stopped: str, start: float
) -> ProgressiveResult:
    covered = coverage(table, column)
    return ProgressiveResult(
        table.name,
        column.name,
        done,
        covered.embedded,
        covered.total,
        table.version,
        batches,
        covered.embedded == covered.total and not _is_progressive(table, column.name),
        stopped,
        time.perf_counter() - start,
    )


def _is_progressive(table: Table, name: str) -> bool:
    found = _column(table, name)
    return found is not None and found.is_progressive
