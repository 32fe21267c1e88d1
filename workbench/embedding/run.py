"""Building a vector column: streamed, checkpointed, committed whole in one table version.

The corpus is read in batches at a fixed table version; each embedded batch is written to a
checkpoint file (fsync, temporary name, atomic rename), so a run killed at any point
(``kill -9``) resumes where it stopped; an unreadable part is recomputed. When every batch is
done, the column and its companion ``src__…`` column (the ``content_hash`` each vector was
computed from) are added in one version by lance ``add_columns`` fed from the checkpoints in scan
order — the byte-efficient path (about N·d·4 bytes), with memory bounded by a batch, where a
``merge`` hash join would hold every vector — so the table never shows a half-filled column.
That version is tagged ``candidate-<column>``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa

from workbench.contract import META_USAGE, candidate_tag, document_text, vector_type
from workbench.errors import (
    ConcurrentChangeError,
    CorruptStateError,
    DimensionMismatchError,
    InvalidArgumentError,
    MixedIndexError,
)
from workbench.models.canary import require_canaries
from workbench.models.ref import VECTOR_SETTINGS, Embedder, ModelRef, load_embedder, require_own_model
from workbench.progress import ProgressFn
from workbench.store.canaries import canaries_for, record_check
from workbench.store.workspace import Workspace, column_metadata, set_tag, vector_columns

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.embedding.ray_engine import RayOptions

__all__ = [
    "ENGINES",
    "EmbedResult",
    "Engine",
    "PendingRun",
    "embed",
    "embed_batch",
    "existing_column",
    "pending_run",
    "vector_schema",
]

log = logging.getLogger(__name__)

_READ_COLUMNS = ["id", "title", "text", "content_hash"]
_TOKENS_KEY = b"workbench:tokens"
Engine = Literal["local", "ray"]
ENGINES: tuple[str, ...] = ("local", "ray")
_MANIFEST_KEYS = frozenset({"table_version", "rows", "batch_size", "fingerprint"})


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


@dataclass(frozen=True)
class PendingRun:
    """An interrupted embedding run of one column: what its checkpoints hold, and if they still fit.

    Attributes:
        column: The vector column the run builds.
        rows_done: Rows embedded and checkpointed so far.
        rows_total: Rows of the table version the run read.
        table_version: That table version.
        batch_size: Rows per checkpoint; resume with the same ``batch_size`` to reuse them.
        valid: True while the table is still at ``table_version`` (and the pin is the same):
            :func:`embed` then resumes after ``rows_done`` rows. False: the table changed
            since, and the next run discards the checkpoints and starts over.
        engine: The engine whose checkpoints these are (``"ray"`` resumes whole fragments).
    """

    column: str
    rows_done: int
    rows_total: int
    table_version: int
    batch_size: int
    valid: bool
    engine: str = "local"


def vector_schema(ref: ModelRef, *, canaries: str | None = None) -> pa.Schema:
    """``id`` + the vector column (carrying the pin and its canaries) + its ``src__`` column."""
    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field(ref.column, vector_type(ref.dim), metadata=column_metadata(ref, canaries=canaries)),
            pa.field(ref.src_column, pa.string()),
        ]
    )


def embed_batch(
    embedder: Embedder, batch: pa.RecordBatch | pa.Table, schema: pa.Schema, *, encode_batch: int
) -> pa.RecordBatch:
    """Embed one batch of corpus rows into ``(id, vector, src)`` with the given schema."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0]
    titles = batch.column("title").to_pylist()
    texts = batch.column("text").to_pylist()
    docs = [document_text(t or "", x) for t, x in zip(titles, texts, strict=True)]
    vectors = embedder.encode_documents(docs, batch_size=encode_batch)
    dim = schema.field(1).type.list_size
    if vectors.shape != (len(docs), dim):
        raise DimensionMismatchError(
            f"model {embedder.ref.name!r} returned vectors of shape {vectors.shape}, expected "
            f"({len(docs)}, {dim}); its pin's dim is wrong"
        )
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    return pa.RecordBatch.from_arrays(
        [
            batch.column("id"),
            pa.FixedSizeListArray.from_arrays(flat, dim),
            batch.column("content_hash"),
        ],
        schema=schema,
    )


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
        An :class:`EmbedResult`; ``created`` is False when the column already existed.

    Raises:
        DimensionMismatchError: a column of that name exists with another dimension.
        MixedIndexError: ``embedder`` is not the model ``ref`` pins.
    """
    if engine not in ENGINES:
        raise InvalidArgumentError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
    if embedder is not None:
        require_own_model(embedder, ref, column=ref.column)
    if engine == "ray":
        from workbench.embedding.ray_engine import RayOptions, embed_ray

        # The behavioural check runs on the driver before any worker starts: a changed model
        # writes nothing. Workers verify the file pin themselves when they load the model.
        driver_model = embedder or load_embedder(ref)
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
        )
    start = time.perf_counter()
    table = ws.table(table_name)
    run = _run_of(ws, table_name, ref)
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
    table.checkout_latest()
    if table.version != version:
        run.discard()
        raise ConcurrentChangeError(
            f"table {table_name!r} changed while embedding (version {version} → {table.version}); "
            "run `workbench embed` again to embed the current rows"
        )
    if ref.is_served:
        schema = _with_usage(schema, ref, run.tokens())
    _commit(table, run, schema, batch_size)
    new_version = table.version
    tag = candidate_tag(ref.column)
    set_tag(table, tag, new_version)
    run.discard()
    log.info("added %s to %s at version %d", ref.column, table_name, new_version)
    return EmbedResult(
        table_name, ref.column, total, new_version, tag, True, resumed, time.perf_counter() - start
    )


def pending_run(ws: Workspace, table_name: str, ref: ModelRef) -> PendingRun | None:
    """The interrupted run of ``ref``'s column on ``table_name``, if one left checkpoints.

    Reads only the run's manifest and the row counts of its checkpoint files; nothing is
    changed. None when there is no checkpoint or the column exists already.

    Example:
        >>> run = pending_run(ws, "demo", ws.model("minilm-l6"))  # doctest: +SKIP
        >>> (run.rows_done, run.rows_total, run.valid)  # doctest: +SKIP
        (256, 432, True)
    """
    table = ws.table(table_name)
    if ref.column in table.schema.names:
        return None
    run = _run_of(ws, table_name, ref)
    manifest = run.manifest()
    if manifest is None:
        return _pending_fragment_run(ws, table, ref)
    version = int(manifest["table_version"])
    return PendingRun(
        column=ref.column,
        rows_done=run.rows_done(),
        rows_total=int(manifest["rows"]),
        table_version=version,
        batch_size=int(manifest["batch_size"]),
        valid=version == table.version and manifest["fingerprint"] == ref.fingerprint,
    )


def _pending_fragment_run(ws: Workspace, table: Table, ref: ModelRef) -> PendingRun | None:
    from workbench.embedding.fragments import fragment_run

    run = fragment_run(ws.state_dir, table.name, ref.column)
    manifest = run.manifest()
    if manifest is None:
        return None
    version = int(manifest["table_version"])
    return PendingRun(
        column=ref.column,
        rows_done=run.rows_done(),
        rows_total=int(manifest["rows"]),
        table_version=version,
        batch_size=int(manifest["batch_size"]),
        valid=version == table.version and manifest["fingerprint"] == ref.fingerprint,
        engine="ray",
    )


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


def _run_of(ws: Workspace, table_name: str, ref: ModelRef) -> _Run:
    return _Run(ws.state_dir / "runs" / table_name / ref.column)


def _commit(table: Table, run: _Run, schema: pa.Schema, batch_size: int) -> None:
    """Add the checkpointed columns in one version, streaming (memory O(batch), not O(N)).

    ``add_columns`` hands the UDF the rows in scan order; each call takes the next rows of
    the checkpoint stream and checks that their ids are the batch's ids, so any other order
    raises before anything is committed.
    """
    import lance

    out_schema = pa.schema([schema.field(1), schema.field(2)])
    stream = run.reader(schema)
    pending: list[pa.RecordBatch] = []

    def take(n: int) -> pa.Table:
        pieces = []
        while n:
            if not pending:
                pending.append(stream.read_next_batch())
            head = pending[0]
            k = min(n, head.num_rows)
            pieces.append(head.slice(0, k))
            pending[0] = head.slice(k)
            if pending[0].num_rows == 0:
                pending.pop(0)
            n -= k
        return pa.Table.from_batches(pieces, schema=schema)

    @lance.batch_udf(output_schema=out_schema)
    def columns(batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = take(batch.num_rows)
        if not rows.column("id").combine_chunks().equals(batch.column("id")):
            raise CorruptStateError("checkpoints are not in the table's scan order; nothing was committed")
        return pa.RecordBatch.from_arrays(
            [rows.column(1).combine_chunks(), rows.column(2).combine_chunks()], schema=out_schema
        )

    table.to_lance().add_columns(columns, read_columns=["id"], batch_size=batch_size)
    table.checkout_latest()


def existing_column(table: Table, ref: ModelRef) -> EmbedResult | None:
    """If the column exists: a no-op result (re-tagging if a crash lost the tag)."""
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


def _scan(table: Table, version: int, batch_size: int) -> Iterator[pa.RecordBatch]:
    dataset = table.to_lance()
    if dataset.version != version:
        dataset = dataset.checkout_version(version)
    yield from dataset.to_batches(columns=_READ_COLUMNS, batch_size=batch_size, scan_in_order=True)


def _first_version_with(table: Table, column: str) -> int:
    """The oldest version whose schema has ``column`` (walking back from the latest)."""
    first = table.version
    dataset = table.to_lance()
    for info in sorted(table.list_versions(), key=lambda v: v["version"], reverse=True):
        if column not in dataset.checkout_version(info["version"]).schema.names:
            break
        first = info["version"]
    return first


class _Run:
    """Checkpoint files of one embedding run: ``part-000042.arrow`` per batch + a manifest."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def manifest(self) -> dict[str, Any] | None:
        """The manifest of the checkpointed run, or None (no run, or an unreadable manifest)."""
        try:
            found = json.loads((self.folder / "manifest.json").read_text())
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and found.keys() >= _MANIFEST_KEYS else None

    def prepare(self, manifest: dict[str, object]) -> None:
        path = self.folder / "manifest.json"
        if path.exists():
            if self.manifest() == manifest:
                return
            log.warning("discarding checkpoints of an older run in %s", self.folder)
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, json.dumps(manifest, sort_keys=True).encode())

    def _part(self, index: int) -> Path:
        return self.folder / f"part-{index:06d}.arrow"

    def has(self, index: int, ids: pa.Array) -> bool:
        """True if batch ``index`` is checkpointed (and holds exactly these ids, in order)."""
        part = self._part(index)
        if not part.exists():
            return False
        try:
            with pa.memory_map(str(part)) as source:
                stored = pa.ipc.open_file(source).read_all().column("id")
        except (OSError, pa.ArrowInvalid):
            log.warning("checkpoint %s is unreadable; recomputing it", part.name)
            part.unlink()
            return False
        if not stored.equals(pa.chunked_array([ids])):
            log.warning("checkpoint %s does not match the scan; recomputing it", part.name)
            part.unlink()
            return False
        return True

    def rows_done(self) -> int:
        """Rows in the checkpoint files (reads their footers; the vectors stay on disk)."""
        rows = 0
        for part in self.folder.glob("part-*.arrow"):
            try:
                with pa.memory_map(str(part)) as source:
                    reader = pa.ipc.open_file(source)
                    rows += sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            except (OSError, pa.ArrowInvalid):
                continue  # unreadable: embed() recomputes it
        return rows

    def tokens(self) -> int:
        """Tokens the server reported for the checkpointed batches (kept across resumes)."""
        total = 0
        for part in self.folder.glob("part-*.arrow"):
            with pa.memory_map(str(part)) as source:
                meta = pa.ipc.open_file(source).schema.metadata or {}
            total += int(meta.get(_TOKENS_KEY, b"0"))
        return total

    def write(self, index: int, batch: pa.RecordBatch, *, tokens: int = 0) -> None:
        batch = batch.replace_schema_metadata({_TOKENS_KEY: str(tokens)})
        tmp = self._part(index).with_suffix(".tmp")
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
        _fsync(tmp)
        os.replace(tmp, self._part(index))

    def reader(self, schema: pa.Schema) -> pa.RecordBatchReader:
        parts = sorted(self.folder.glob("part-*.arrow"))

        def batches() -> Iterator[pa.RecordBatch]:
            for part in parts:
                with pa.memory_map(str(part)) as source:
                    reader = pa.ipc.open_file(source)
                    for i in range(reader.num_record_batches):
                        yield reader.get_batch(i).cast(schema)

        return pa.RecordBatchReader.from_batches(schema, batches())

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    _fsync(tmp)
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    """Flush a file before it is renamed into place (a power loss must not leave a torn part)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
