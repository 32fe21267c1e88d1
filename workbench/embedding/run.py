"""Building a vector column: streamed, checkpointed, committed whole in one table version.

:func:`embed` is the one entry point; it runs the local engine here and hands ``engine="ray"``
to :mod:`workbench.embedding.ray_engine`. The local engine reads the corpus in batches at a
fixed table version; each embedded batch is checkpointed (:mod:`workbench.embedding.checkpoint`),
so a run killed at any point (``kill -9``) resumes where it stopped; an unreadable part is
recomputed. The model is checked when the run starts (canaries), with every request of a served
model (one canary each, see :mod:`workbench.models.served`) and again just before the commit
(canaries, and a local model's file pin): a model that changed mid-run stops the run with its
checkpoints discarded and nothing committed. When every batch is done, the column and its
companion ``src__…`` column (the ``content_hash`` each vector was computed from) are added in one
version
(:func:`~workbench.embedding.commit.commit_batches`), so the table never shows a half-filled
column. That version is tagged ``candidate-<column>``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from workbench.contract import META_USAGE, candidate_tag
from workbench.embedding.batch import READ_COLUMNS, embed_batch, vector_schema
from workbench.embedding.checkpoint import BatchRun, batch_run, exclusive_run
from workbench.embedding.commit import commit_batches
from workbench.embedding.pin_check import still_the_pinned_model as _still_the_pinned_model
from workbench.embedding.ray_engine import RayOptions, embed_ray
from workbench.embedding.result import EmbedResult, discarded, existing_column
from workbench.errors import (
    ConcurrentChangeError,
    FingerprintMismatchError,
    InvalidArgumentError,
)
from workbench.models.canary import require_canaries
from workbench.models.embedder import Embedder, require_own_model
from workbench.models.loading import load_embedder
from workbench.models.ref import ModelRef
from workbench.progress import ProgressFn
from workbench.store.canaries import canaries_for, record_check
from workbench.store.workspace import Workspace, set_tag, vector_columns

if TYPE_CHECKING:
    from lancedb.table import Table

__all__ = ["ENGINES", "Engine", "embed"]

log = logging.getLogger(__name__)

Engine = Literal["local", "ray"]
ENGINES: tuple[str, ...] = ("local", "ray")


def embed(
    ws: Workspace,
    table_name: str,
    ref: ModelRef,
    *,
    embedder: Embedder | None = None,
    batch_size: int = 256,
    encode_batch: int = 32,
    on_progress: ProgressFn | None = None,
    engine: Engine = "local",
    ray: RayOptions | None = None,
    on_fragment: Callable[[int, int], None] | None = None,
) -> EmbedResult:
    """Add the vector column of ``ref`` to ``table_name``; resume a killed run.

    Both engines produce the same column contract: one new table version adds the column
    whole, with the pin in its field metadata, the ``src__`` content-hash column and the
    ``candidate-<column>`` tag. ``"local"`` embeds in this process, checkpointing every
    ``batch_size`` rows; ``"ray"`` embeds whole fragments on Ray workers (each loads and verifies
    the model), checkpointing every fragment (see :mod:`workbench.embedding.ray_engine`).
    Either engine's checkpoints are reported by :func:`~workbench.embedding.checkpoint.pending_run`.

    Args:
        ws: The workspace.
        table_name: The corpus table.
        ref: The pinned model; its column is ``ref.column``.
        embedder: An already-loaded embedder for ``ref`` (loaded and verified if omitted).
        batch_size: Rows per checkpoint.
        encode_batch: Rows per forward pass of the model.
        on_progress: Called with ``(rows_done, rows_total)``.
        engine: ``"local"`` or ``"ray"`` (needs the ``ray`` extra).
        ray: Where and how wide the Ray engine runs (default: a local Ray, 2 workers).
        on_fragment: Ray engine: called with ``(fragments_done, fragments_total)``.

    Returns:
        An :class:`~workbench.embedding.result.EmbedResult`; ``created`` is False when the
        column already existed.

    Raises:
        DimensionMismatchError: a column of that name exists with another dimension.
        MixedIndexError: ``embedder`` is not the model ``ref`` pins.
        ConcurrentChangeError: another process is embedding this column now (named in the
            message; see :func:`~workbench.embedding.checkpoint.exclusive_run`).
    """
    if engine not in ENGINES:
        raise InvalidArgumentError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
    ref = ws.located(ref)  # a served model where it answers now (workbench.toml / relocations)
    if embedder is not None:
        require_own_model(embedder, ref, column=ref.column)
    if _is_progressive(ws.table(table_name), ref):  # a missing table is named before the run
        return _complete_progressive(ws, table_name, ref, embedder, batch_size, encode_batch, on_progress)
    with exclusive_run(ws.state_dir, table_name, ref.column):  # a second embed of it refuses
        if engine == "local":
            return _embed_local(
                ws,
                table_name,
                ref,
                embedder=embedder,
                batch_size=batch_size,
                encode_batch=encode_batch,
                on_progress=on_progress,
            )
        # The behavioural check runs on the driver before any worker starts: a changed model
        # writes nothing. Workers verify the file pin themselves when they load the model.
        with _loaded(embedder, ref) as driver_model:
            pinned = canaries_for(ws, ref, driver_model)
            record_check(ws, ref.column, require_canaries(driver_model, pinned), context="embed")
            return embed_ray(
                ws,
                table_name,
                ref,
                options=ray or RayOptions(),
                batch_size=batch_size,
                encode_batch=encode_batch,
                on_progress=on_progress,
                on_fragment=on_fragment,
                canaries=pinned.to_json(),
                before_commit=lambda: _still_the_pinned_model(driver_model, ref, pinned),
            )


def _is_progressive(table: Table, ref: ModelRef) -> bool:
    if ref.column not in table.schema.names:
        return False
    return any(c.name == ref.column and c.is_progressive for c in vector_columns(table))


def _complete_progressive(
    ws: Workspace,
    table_name: str,
    ref: ModelRef,
    embedder: Embedder | None,
    batch_size: int,
    encode_batch: int,
    on_progress: ProgressFn | None,
) -> EmbedResult:
    """A progressive column's remaining rows, embedded in batches; then it is a whole column."""
    from workbench.embedding.progressive import embed_progressive

    done = embed_progressive(
        ws,
        table_name,
        ref,
        embedder=embedder,
        batch_size=batch_size,
        encode_batch=encode_batch,
        on_progress=on_progress,
    )
    table = ws.table(table_name)
    tag = candidate_tag(ref.column)
    return EmbedResult(
        table_name,
        ref.column,
        done.total,
        table.version,
        tag,
        True,
        done.total - done.rows_embedded,
        done.seconds,
    )


def _embed_local(
    ws: Workspace,
    table_name: str,
    ref: ModelRef,
    *,
    embedder: Embedder | None,
    batch_size: int,
    encode_batch: int,
    on_progress: ProgressFn | None,
) -> EmbedResult:
    """The local engine: embed batch by batch in this process, then commit once."""
    start = time.perf_counter()
    table = ws.table(table_name)
    run = batch_run(ws.state_dir, table_name, ref.column)
    existing = existing_column(table, ref)
    if existing is not None:
        run.discard()  # a crash after the commit, before the cleanup, left them behind
        return existing
    if embedder is None:
        embedder = load_embedder(ref)
    # The behavioural check comes before anything is written: a changed model writes nothing.
    canaries = canaries_for(ws, ref, embedder)
    record_check(ws, ref.column, require_canaries(embedder, canaries), context="embed")
    version = table.version
    total = table.count_rows()
    run.prepare(
        {
            "table_version": version,
            "rows": total,
            "batch_size": batch_size,
            "fingerprint": ref.fingerprint,
        }
    )
    schema = vector_schema(ref, canaries=canaries.to_json())
    try:
        resumed = _embed_batches(
            table, version, run, embedder, ref, schema, batch_size, encode_batch, on_progress, start
        )
        _still_the_pinned_model(embedder, ref, canaries)
    except FingerprintMismatchError as exc:
        rows = run.rows_done()
        run.discard()
        raise discarded(exc, rows) from None
    table.checkout_latest()
    if table.version != version:
        run.discard()
        raise ConcurrentChangeError(
            f"table {table_name!r} changed while embedding (version {version} → {table.version}); "
            "run `workbench embed` again to embed the current rows"
        )
    if ref.is_served:
        schema = _with_usage(schema, ref, run.tokens())
    commit_batches(table, run, schema, batch_size)
    new_version = table.version
    tag = candidate_tag(ref.column)
    set_tag(table, tag, new_version)
    run.discard()
    log.info("added %s to %s at version %d", ref.column, table_name, new_version)
    return EmbedResult(
        table_name, ref.column, total, new_version, tag, True, resumed, time.perf_counter() - start
    )


@contextmanager
def _loaded(embedder: Embedder | None, ref: ModelRef) -> Iterator[Embedder]:
    """``embedder``, or the model ``ref`` pins loaded here and closed after (a served client's
    connections are closed, not left to the garbage collector)."""
    if embedder is not None:
        yield embedder
        return
    loaded = load_embedder(ref)
    try:
        yield loaded
    finally:
        close = getattr(loaded, "close", None)
        if callable(close):
            close()


def _embed_batches(
    table: Table,
    version: int,
    run: BatchRun,
    embedder: Embedder,
    ref: ModelRef,
    schema: pa.Schema,
    batch_size: int,
    encode_batch: int,
    on_progress: ProgressFn | None,
    start: float,
) -> int:
    """Embed and checkpoint every batch not checkpointed yet; returns the rows resumed."""
    total = table.count_rows()
    usage = getattr(embedder, "usage", None)
    done = resumed = 0
    for index, batch in enumerate(_scan(table, version, batch_size)):
        if run.has(index, batch.column("id")):
            done += batch.num_rows
            resumed += batch.num_rows
        else:
            tokens_before = usage.tokens if usage is not None else 0
            embedded = embed_batch(embedder, batch, schema, encode_batch=encode_batch)
            run.write(index, embedded, tokens=(usage.tokens - tokens_before) if usage is not None else 0)
            done += batch.num_rows
            _log_rate(ref, done, total, resumed, start, usage)
        if on_progress is not None:
            on_progress(done, total)
    return resumed


def _log_rate(ref: ModelRef, done: int, total: int, resumed: int, start: float, usage: Any) -> None:
    """Progress in the log: rows/s and, for a served model, tokens and cost so far."""
    rate = (done - resumed) / max(time.perf_counter() - start, 1e-9)
    if usage is None:
        log.info("%s: %d/%d rows, %.1f rows/s", ref.column, done, total, rate)
        return
    cost = "" if usage.cost is None else f", est. cost {usage.cost:.4f}"
    log.info("%s: %d/%d rows, %.1f rows/s, %d tokens%s", ref.column, done, total, rate, usage.tokens, cost)


def _with_usage(schema: pa.Schema, ref: ModelRef, tokens: int) -> pa.Schema:
    """The vector field's metadata plus the tokens spent (all runs) and the estimated cost."""
    price = ref.serving.price_per_million_tokens if ref.serving is not None else None
    usage = {"tokens": tokens, "price_per_million_tokens": price}
    if price is not None:
        usage["estimated_cost"] = tokens * price / 1e6
    field = schema.field(1)
    meta = {**(field.metadata or {}), META_USAGE.encode(): json.dumps(usage).encode()}
    return schema.set(1, field.with_metadata(meta))


def _scan(table: Table, version: int, batch_size: int) -> Iterator[pa.RecordBatch]:
    """The corpus rows of ``version`` in scan order, the order the commit adds them back in."""
    dataset = table.to_lance()
    if dataset.version != version:
        dataset = dataset.checkout_version(version)
    yield from dataset.to_batches(columns=READ_COLUMNS, batch_size=batch_size, scan_in_order=True)
