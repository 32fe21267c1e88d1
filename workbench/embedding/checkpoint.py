"""Checkpoints of an embedding run: what a killed run leaves on disk, and how it resumes.

Both engines checkpoint under the workspace's local ``state_dir``, one folder per run
(``<engine folder>/<table>/<column>/``): a ``manifest.json`` that pins what the run read, and
one file per finished unit of work. Every file is written to a temporary name, fsynced and
atomically renamed (:func:`atomic_write`), so a run killed at any point (``kill -9``, a power
loss) finds only whole files; an unreadable one is recomputed.

- The local engine (:class:`BatchRun`, folder ``runs/``) writes ``part-000042.arrow``: the
  embedded ``(id, vector, src)`` rows of batch 42 of the scan, with the tokens a served model
  reported in the schema metadata.
- The Ray engine (:class:`FragmentRun`, folder ``ray-runs/``) writes ``fragment-00000007.pkl``:
  the metadata of the data file a worker wrote for fragment 7 (nothing is visible in the table
  until one commit adds every fragment).

Both manifests hold ``table_version``, ``rows``, ``batch_size`` and ``fingerprint``, so
:func:`pending_run` reports an interrupted run of either engine the same way.

One run of a column at a time: :func:`exclusive_run` holds a lock (``locks/embed-…``, see
:mod:`workbench.store.locks`) for the whole run, so a second ``workbench embed`` of the same
column refuses at once, naming the first, instead of sharing (and tearing) its checkpoint
folder. The lock dies with its holder: a killed run never blocks the rerun that resumes it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from workbench.models.ref import ModelRef
from workbench.store.locks import hold
from workbench.store.workspace import Workspace

__all__ = [
    "BatchRun",
    "FragmentResult",
    "FragmentRun",
    "PendingRun",
    "atomic_write",
    "batch_run",
    "exclusive_run",
    "fragment_run",
    "pending_run",
]

log = logging.getLogger(__name__)

_MANIFEST = "manifest.json"
_TOKENS_KEY = b"workbench:tokens"
_COMMON_KEYS = frozenset({"table_version", "rows", "batch_size", "fingerprint"})


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: temporary name, fsync, atomic rename.

    The fsync comes before the rename, so a power loss never leaves a torn file under the
    final name.
    """
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def exclusive_run(state_dir: Path, table: str, column: str) -> AbstractContextManager[None]:
    """Hold the one embedding run of ``column`` on ``table`` (either engine) for a ``with`` block.

    Raises:
        ConcurrentChangeError: another process is embedding this column now (the message names
            it); nothing was read or written.
    """
    return hold(
        state_dir,
        f"embed-{table}-{column}",
        what=f"an embed of {column} into {table!r}",
        busy=f"another `workbench embed` of {column} into {table!r} is running",
        fix="Wait for it to finish (the column is then there), or stop it and run embed again to resume it.",
    )


def batch_run(state_dir: Path, table: str, column: str) -> BatchRun:
    """The checkpoint folder of the local engine's run of ``column`` on ``table``."""
    return BatchRun(state_dir / "runs" / table / column)


def fragment_run(state_dir: Path, table: str, column: str) -> FragmentRun:
    """The checkpoint folder of the Ray engine's run of ``column`` on ``table``."""
    return FragmentRun(state_dir / "ray-runs" / table / column)


class _Checkpoints:
    """One run's checkpoint folder: the manifest, and the discarding both engines share."""

    engine: ClassVar[str]
    manifest_keys: ClassVar[frozenset[str]]

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def manifest(self) -> dict[str, Any] | None:
        """The stored manifest, or None (no run, or an unreadable or incomplete manifest)."""
        try:
            found = json.loads((self.folder / _MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and found.keys() >= self.manifest_keys else None

    def rows_done(self) -> int:
        """Rows in the checkpoint files (for a status display)."""
        raise NotImplementedError

    def discard(self) -> None:
        """Delete the run's checkpoints (after its commit, or when they no longer fit)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def _start(self, manifest: dict[str, Any]) -> None:
        """Discard any other run's checkpoints and write ``manifest`` in a fresh folder."""
        if self.folder.exists():
            log.warning("discarding checkpoints of an older run in %s", self.folder)
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.folder / _MANIFEST, json.dumps(manifest, sort_keys=True).encode())


class BatchRun(_Checkpoints):
    """The local engine's checkpoints: ``part-000042.arrow`` per batch of the scan + a manifest."""

    engine = "local"
    manifest_keys = _COMMON_KEYS

    def prepare(self, manifest: dict[str, Any]) -> None:
        """Continue the run ``manifest`` describes if it is the stored one; else start it afresh."""
        if self.manifest() == manifest:
            return
        self._start(manifest)

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

    def write(self, index: int, batch: pa.RecordBatch, *, tokens: int = 0) -> None:
        """Checkpoint embedded batch ``index``, with the tokens a served model spent on it."""
        batch = batch.replace_schema_metadata({_TOKENS_KEY: str(tokens)})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
        atomic_write(self._part(index), sink.getvalue().to_pybytes())

    def rows_done(self) -> int:
        """Rows in the checkpoint files (reads their footers; the vectors stay on disk)."""
        rows = 0
        for part in self.folder.glob("part-*.arrow"):
            try:
                with pa.memory_map(str(part)) as source:
                    reader = pa.ipc.open_file(source)
                    rows += sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            except (OSError, pa.ArrowInvalid):
                continue  # unreadable: the next run recomputes it
        return rows

    def tokens(self) -> int:
        """Tokens the server reported for the checkpointed batches (kept across resumes)."""
        total = 0
        for part in self.folder.glob("part-*.arrow"):
            with pa.memory_map(str(part)) as source:
                meta = pa.ipc.open_file(source).schema.metadata or {}
            total += int(meta.get(_TOKENS_KEY, b"0"))
        return total

    def reader(self, schema: pa.Schema) -> pa.RecordBatchReader:
        """Every checkpointed row in batch order, cast to ``schema`` (one batch in memory)."""
        parts = sorted(self.folder.glob("part-*.arrow"))

        def batches() -> Iterator[pa.RecordBatch]:
            for part in parts:
                with pa.memory_map(str(part)) as source:
                    reader = pa.ipc.open_file(source)
                    for i in range(reader.num_record_batches):
                        yield reader.get_batch(i).cast(schema)

        return pa.RecordBatchReader.from_batches(schema, batches())


@dataclass(frozen=True)
class FragmentResult:
    """One finished fragment: its new metadata (the added data file) and the resulting schema."""

    fragment_id: int
    rows: int
    metadata: Any  # lance.fragment.FragmentMetadata
    schema: Any  # lance.LanceSchema


class _FragmentUnpickler(pickle.Unpickler):
    """Reads fragment checkpoints, including those written when the class lived elsewhere."""

    _MOVED: ClassVar[dict[tuple[str, str], type]] = {
        # Written before this module existed: a run interrupted then still resumes.
        ("workbench.embedding.fragments", "FragmentResult"): FragmentResult,
    }

    def find_class(self, module: str, name: str) -> Any:
        return self._MOVED.get((module, name)) or super().find_class(module, name)


def _load_fragment(path: Path) -> Any:
    # Our own file, written by this driver under the local state folder.
    return _FragmentUnpickler(io.BytesIO(path.read_bytes())).load()


class FragmentRun(_Checkpoints):
    """The Ray engine's checkpoints: ``fragment-<id>.pkl`` per finished fragment + a manifest.

    The manifest also pins the time the table version was written, the fragment ids, and the
    exact field metadata of the new column (written once, so that every fragment — first run
    or resumed — carries the same schema).
    """

    engine = "ray"
    manifest_keys = _COMMON_KEYS | {"fragments", "metadata", "engine"}

    def prepare(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Start or continue the run described by ``manifest``; returns the manifest in force.

        A stored manifest for the same table version, model and fragments is kept as it is
        (its ``metadata`` wins, so resumed fragments and new ones share one schema); any other
        stored run is discarded.
        """
        current = self.manifest()
        same = ("table_version", "table_version_time", "fingerprint", "fragments", "engine")
        if current is not None and all(current.get(k) == manifest.get(k) for k in same):
            return current
        self._start(manifest)
        return manifest

    def _path(self, fragment_id: int) -> Path:
        return self.folder / f"fragment-{fragment_id:08d}.pkl"

    def load(self, fragment_id: int, *, data_dir: Path | None) -> FragmentResult | None:
        """The checkpointed result of a fragment, or None (absent, unreadable, or files gone).

        ``data_dir`` (local workspaces) lets the check confirm the fragment's new data files
        still exist; an uncommitted file removed by a cleanup is recomputed, never committed.
        """
        path = self._path(fragment_id)
        if not path.exists():
            return None
        try:
            found = _load_fragment(path)
        except Exception:
            log.warning("checkpoint %s is unreadable; recomputing the fragment", path.name)
            path.unlink(missing_ok=True)
            return None
        if not isinstance(found, FragmentResult) or found.fragment_id != fragment_id:
            path.unlink(missing_ok=True)
            return None
        if data_dir is not None:
            missing = [f.path for f in found.metadata.files if not (data_dir / f.path).exists()]
            if missing:
                log.warning("data files of fragment %d are gone (%s); recomputing", fragment_id, missing)
                path.unlink(missing_ok=True)
                return None
        return found

    def save(self, result: FragmentResult) -> None:
        """Checkpoint a finished fragment."""
        atomic_write(self._path(result.fragment_id), pickle.dumps(result))

    def rows_done(self) -> int:
        """Rows in checkpointed fragments (for a status display; nothing is verified)."""
        rows = 0
        for path in self.folder.glob("fragment-*.pkl"):
            try:
                rows += _load_fragment(path).rows
            except Exception:
                continue
        return rows


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
            :func:`~workbench.embedding.run.embed` then resumes after ``rows_done`` rows. False:
            the table changed since, and the next run discards the checkpoints and starts over.
        engine: The engine whose checkpoints these are (``"ray"`` resumes whole fragments).
    """

    column: str
    rows_done: int
    rows_total: int
    table_version: int
    batch_size: int
    valid: bool
    engine: str = "local"


def pending_run(ws: Workspace, table_name: str, ref: ModelRef) -> PendingRun | None:
    """The interrupted run of ``ref``'s column on ``table_name``, if one left checkpoints.

    Reads only the run's manifest and the row counts of its checkpoint files; nothing is
    changed. None when there is no checkpoint or the column exists already. A local run's
    checkpoints are reported before a Ray run's.

    Example:
        >>> run = pending_run(ws, "demo", ws.model("minilm-l6"))  # doctest: +SKIP
        >>> (run.rows_done, run.rows_total, run.valid)  # doctest: +SKIP
        (256, 432, True)
    """
    table = ws.table(table_name)
    if ref.column in table.schema.names:
        return None
    runs: tuple[_Checkpoints, ...] = (
        batch_run(ws.state_dir, table_name, ref.column),
        fragment_run(ws.state_dir, table_name, ref.column),
    )
    for run in runs:
        manifest = run.manifest()
        if manifest is None:
            continue
        version = int(manifest["table_version"])
        return PendingRun(
            column=ref.column,
            rows_done=run.rows_done(),
            rows_total=int(manifest["rows"]),
            table_version=version,
            batch_size=int(manifest["batch_size"]),
            valid=version == table.version and manifest["fingerprint"] == ref.fingerprint,
            engine=run.engine,
        )
    return None
