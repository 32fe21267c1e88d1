"""The Ray engine: the same embedding run, fragment-parallel on a Ray cluster.

Each worker is a Ray actor that loads the pinned model once through
:func:`~workbench.models.loading.load_embedder` (which verifies the pin: file fingerprint, and any
check a model source adds) and embeds whole fragments with lance
``LanceFragment.merge_columns`` — the per-fragment step ``lance_ray.add_columns`` distributes.
A worker writes its fragment's new data file next to the table (local disk or object
storage) and hands back only the small fragment metadata; the driver checkpoints it
(:class:`~workbench.embedding.checkpoint.FragmentRun`, in the checkpoint module both engines
use), and when every fragment is done commits one ``LanceOperation.Merge``
(:func:`~workbench.embedding.commit.commit_fragments`): one new table version with the column
whole, the same column contract as the local engine (field metadata with the pin, the
``src__`` column, the ``candidate-<column>`` tag).

Why actors over fragments rather than ``lance_ray.add_columns`` itself: that call keeps every
fragment's result in memory until all are done, so a killed driver loses the whole job, and
it loads the model in every task; here a job resumes at fragment granularity and a worker
loads its model once. Parallelism is the number of fragments (a table ingested in several
pieces, or any large table: lance writes at most a million rows per fragment by default).

Ray is optional: ``pip install "embedding-workbench[ray]"``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from workbench.contract import candidate_tag, vector_type
from workbench.embedding.batch import READ_COLUMNS, embed_batch
from workbench.embedding.checkpoint import FragmentResult, fragment_run
from workbench.embedding.commit import commit_fragments
from workbench.embedding.result import EmbedResult, discarded, existing_column
from workbench.errors import (
    ConcurrentChangeError,
    CorruptStateError,
    FingerprintMismatchError,
    InvalidArgumentError,
    MissingDependencyError,
    WorkbenchError,
    WorkerLostError,
)
from workbench.models.canary import CanaryPin
from workbench.models.embedder import require_own_model
from workbench.models.loading import load_embedder
from workbench.models.ref import ModelRef
from workbench.progress import ProgressFn
from workbench.store.workspace import Workspace, column_metadata, set_tag

__all__ = [
    "FragmentFn",
    "FragmentWorker",
    "RayOptions",
    "RowCounter",
    "connect",
    "embed_ray",
    "output_schema",
    "require_ray",
]

log = logging.getLogger(__name__)

FragmentFn = Callable[[int, int], None]
"""Called with ``(fragments_done, fragments_total)``."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the Ray engine runs.

    Attributes:
        address: A Ray cluster (``ray://host:10001`` or ``host:6379``, or ``auto``); None
            starts a local Ray on this machine (or uses one this process already started).
        workers: Model-holding actors (at most one per fragment is used).
        cpus_per_worker: CPUs each actor reserves; fractional values are allowed and the
            model uses ``max(1, int(cpus))`` threads.
        gpus_per_worker: GPUs each actor reserves (0 = CPU).
    """

    address: str | None = None
    workers: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise InvalidArgumentError(f"workers must be at least 1, got {self.workers}")
        if self.cpus_per_worker <= 0 or self.gpus_per_worker < 0:
            raise InvalidArgumentError(
                f"cpus_per_worker must be > 0 and gpus_per_worker >= 0, got "
                f"{self.cpus_per_worker} and {self.gpus_per_worker}"
            )


def require_ray() -> Any:
    """Import ray (and lance-ray's dependencies), or say how to install them."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(
            'the ray engine needs Ray: install it with `pip install "embedding-workbench[ray]"` '
            '(or `pip install "ray[data]" lance-ray`), or use `--engine local`'
        ) from exc
    return ray


def connect(options: RayOptions) -> bool:
    """Join (or start) Ray; True if this call started it (the caller then shuts it down)."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
    env = {k: os.environ[k] for k in ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM") if k in os.environ}
    kwargs["runtime_env"] = {"env_vars": env} if env else None
    if options.address is not None:
        ray.init(address=options.address, **kwargs)
    else:
        ray.init(**kwargs)
    log.info("Ray ready in %.1fs: %s", time.perf_counter() - started, ray.cluster_resources())
    return True


class FragmentWorker:
    """A Ray actor body: one verified model, embedding whole fragments on request."""

    def __init__(self, ref_json: str, threads: int, canaries: str | None = None) -> None:
        import torch  # heavy (seconds), and only the worker process needs it

        torch.set_num_threads(threads)
        self.ref = ModelRef.model_validate_json(ref_json)
        self.error: WorkbenchError | None = None
        try:
            self.embedder = load_embedder(self.ref)  # verifies the pin on this worker
            require_own_model(self.embedder, self.ref, column=self.ref.column)
            watch = getattr(self.embedder, "watch_canaries", None)
            if canaries is not None and callable(watch):  # every request carries a canary
                watch(CanaryPin.from_json(canaries), threshold=self.ref.canary_threshold)
        except WorkbenchError as exc:
            self.error = exc

    def ready(self) -> str:
        """Raise the pin check's error, if any; else where this worker runs."""
        if self.error is not None:
            raise self.error
        return f"{os.uname().nodename}:{os.getpid()}"

    def embed_fragment(
        self,
        uri: str,
        version: int,
        fragment_id: int,
        out_schema: pa.Schema,
        storage_options: dict[str, str] | None,
        batch_size: int,
        encode_batch: int,
        counter: Any,
    ) -> tuple[int, int, Any, Any]:
        """Write fragment ``fragment_id``'s new columns; return (id, rows, metadata, schema)."""
        import lance  # a third of a second to import; kept off the CLI's start-up path, as in the store

        if self.error is not None:
            raise self.error
        dataset = lance.dataset(uri, version=version, storage_options=storage_options)
        fragment = dataset.get_fragment(fragment_id)
        if fragment is None:
            raise CorruptStateError(
                f"fragment {fragment_id} is not in version {version} of {uri}; run `workbench embed` again"
            )
        full = pa.schema([pa.field("id", pa.string()), *out_schema])

        failures: list[WorkbenchError] = []

        @lance.batch_udf(output_schema=out_schema)
        def columns(batch: pa.RecordBatch) -> pa.RecordBatch:
            try:
                rows = embed_batch(self.embedder, batch, full, encode_batch=encode_batch)
            except WorkbenchError as exc:
                failures.append(exc)
                raise
            counter.add.remote(batch.num_rows)
            return pa.RecordBatch.from_arrays([rows.column(1), rows.column(2)], schema=out_schema)

        try:
            metadata, schema = fragment.merge_columns(columns, READ_COLUMNS, batch_size)
        except Exception:
            if failures:  # lance wraps the UDF's error in a ValueError: raise our own one line
                raise failures[0] from None
            raise
        return fragment_id, fragment.count_rows(), metadata, schema


class RowCounter:
    """A Ray actor body: rows embedded so far, for progress between fragment completions."""

    def __init__(self) -> None:
        self.rows = 0

    def add(self, n: int) -> None:
        self.rows += n

    def get(self) -> int:
        return self.rows


def output_schema(ref: ModelRef, metadata: dict[str, str]) -> pa.Schema:
    """The two new fields (vector with the pin's field metadata, and ``src__``)."""
    return pa.schema(
        [
            pa.field(ref.column, vector_type(ref.dim), metadata=metadata),
            pa.field(ref.src_column, pa.string()),
        ]
    )


def embed_ray(
    ws: Workspace,
    table_name: str,
    ref: ModelRef,
    *,
    options: RayOptions,
    batch_size: int = 256,
    encode_batch: int = 32,
    on_progress: ProgressFn | None = None,
    on_fragment: FragmentFn | None = None,
    canaries: str | None = None,
    before_commit: Callable[[], None] | None = None,
) -> EmbedResult:
    """Add ``ref``'s column to ``table_name`` on Ray; resume a killed job at fragment granularity.

    Called by :func:`workbench.embedding.run.embed` with ``engine="ray"``; see there.
    ``canaries`` (the pinned canary vectors as JSON, checked on the driver) go into the
    column's field metadata as the local engine writes them, and arm each worker's served
    model (one canary in every request). ``before_commit`` re-checks the model just before the
    commit. A model that changed mid-run (``FingerprintMismatchError``) discards the run's
    checkpoints and commits nothing.
    """
    start = time.perf_counter()
    table = ws.table(table_name)
    run = fragment_run(ws.state_dir, table_name, ref.column)
    existing = existing_column(table, ref)
    if existing is not None:
        run.discard()  # a crash after the commit, before the cleanup, left them behind
        return existing
    require_ray()
    dataset = table.to_lance()
    version = dataset.version
    fragment_ids = [f.fragment_id for f in dataset.get_fragments()]
    total = dataset.count_rows()
    manifest = run.prepare(
        {
            "engine": "ray",
            "table_version": version,
            # A table dropped and recreated reaches the same version number again; the time
            # that version was written tells them apart, so stale checkpoints are never reused.
            "table_version_time": _version_time(dataset, version),
            "fingerprint": ref.fingerprint,
            "fragments": fragment_ids,
            "metadata": column_metadata(ref, canaries=canaries),
            "rows": total,
            "batch_size": batch_size,
        }
    )
    schema = output_schema(ref, manifest["metadata"])
    data_dir = Path(dataset.uri) / "data" if ws.is_local else None
    done = {i: r for i in fragment_ids if (r := run.load(i, data_dir=data_dir)) is not None}
    resumed = sum(r.rows for r in done.values())
    todo = [i for i in fragment_ids if i not in done]
    log.info("%d of %d fragments to embed (%d rows resumed)", len(todo), len(fragment_ids), resumed)
    try:
        if todo:
            job = _Job(dataset.uri, version, schema, ws.storage_options, batch_size, encode_batch, canaries)
            for result in job.run(
                ref, todo, options, resumed, total, len(done), len(fragment_ids), on_progress, on_fragment
            ):
                run.save(result)
                done[result.fragment_id] = result
        elif on_progress is not None:
            on_progress(total, total)
        if before_commit is not None:
            before_commit()
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
    commit_fragments(
        dataset.uri, [done[i] for i in fragment_ids], read_version=version, storage_options=ws.storage_options
    )
    table.checkout_latest()
    tag = candidate_tag(ref.column)
    set_tag(table, tag, table.version)
    run.discard()
    log.info("added %s to %s at version %d (ray)", ref.column, table_name, table.version)
    return EmbedResult(
        table_name, ref.column, total, table.version, tag, True, resumed, time.perf_counter() - start
    )


def _version_time(dataset: Any, version: int) -> str:
    found = [v["timestamp"] for v in dataset.versions() if v["version"] == version]
    return str(found[0]) if found else ""


@dataclass(frozen=True)
class _Job:
    uri: str
    version: int
    schema: pa.Schema
    storage_options: dict[str, str] | None
    batch_size: int
    encode_batch: int
    canaries: str | None = None

    def run(
        self,
        ref: ModelRef,
        todo: list[int],
        options: RayOptions,
        rows_before: int,
        total: int,
        fragments_before: int,
        fragments_total: int,
        on_progress: ProgressFn | None,
        on_fragment: FragmentFn | None,
    ) -> Any:
        """Yield each fragment's result as it finishes; workers are verified before any work."""
        ray = require_ray()
        started = connect(options)
        actors: list[Any] = []
        try:
            counter = ray.remote(num_cpus=0)(RowCounter).remote()
            worker = ray.remote(FragmentWorker).options(
                num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker or None
            )
            threads = max(1, int(options.cpus_per_worker))
            actors = [
                worker.remote(ref.model_dump_json(), threads, self.canaries)
                for _ in range(min(options.workers, len(todo)))
            ]
            where = _get(ray, [a.ready.remote() for a in actors])  # a worker whose pin differs fails here
            log.info("workers ready: %s", ", ".join(where))
            pending: dict[Any, Any] = {}
            queue = list(todo)
            idle = list(actors)
            finished = fragments_before
            rows_done = rows_before
            while queue or pending:
                while queue and idle:
                    actor = idle.pop()
                    fragment_id = queue.pop(0)
                    call = actor.embed_fragment.remote(
                        self.uri,
                        self.version,
                        fragment_id,
                        self.schema,
                        self.storage_options,
                        self.batch_size,
                        self.encode_batch,
                        counter,
                    )
                    pending[call] = actor
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for call in ready:
                    idle.append(pending.pop(call))
                    fragment_id, rows, metadata, schema = _get(ray, call)
                    finished += 1
                    yield FragmentResult(fragment_id, rows, metadata, schema)
                    if on_fragment is not None:
                        on_fragment(finished, fragments_total)
                if on_progress is not None:
                    rows_done = rows_before + _get(ray, counter.get.remote())
                    on_progress(min(rows_done, total), total)
        finally:
            for actor in actors:
                ray.kill(actor)
            if started:
                ray.shutdown()


def _get(ray: Any, refs: Any) -> Any:
    """``ray.get``, re-raising a worker's WorkbenchError as itself (one clear line)."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, WorkbenchError):
            raise cause from None
        raise
    except ray.exceptions.ActorDiedError as exc:
        raise WorkerLostError(f"a Ray worker died: {exc}. Run `workbench embed` again to resume.") from exc
