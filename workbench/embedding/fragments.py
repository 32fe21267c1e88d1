"""Fragment checkpoints of a distributed embedding run, and the one commit that ends it.

A distributed run computes the new columns fragment by fragment (lance
``LanceFragment.merge_columns`` on a worker writes the fragment's new data file next to the
table and returns its small ``FragmentMetadata``). Nothing is visible in the table until every
fragment is done and one ``LanceOperation.Merge`` commits them all: one new table version, the
column whole or not at all.

The driver records each finished fragment here (pickle of the metadata and the schema,
written to a temporary name, fsynced, atomically renamed), under the workspace's local
``state_dir``, so a killed job resumes without recomputing finished fragments. The manifest
pins the table version read, the model fingerprint, and the exact field metadata of the new
column (written once, so that every fragment — first run or resumed — carries the same schema).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FragmentResult", "FragmentRun", "commit_fragments", "fragment_run"]

log = logging.getLogger(__name__)

_MANIFEST_KEYS = frozenset(
    {"table_version", "fingerprint", "fragments", "metadata", "engine", "rows", "batch_size"}
)


def fragment_run(state_dir: Path, table: str, column: str) -> FragmentRun:
    """The checkpoint folder of the distributed run of ``column`` on ``table``."""
    return FragmentRun(state_dir / "ray-runs" / table / column)


@dataclass(frozen=True)
class FragmentResult:
    """One finished fragment: its new metadata (the added data file) and the resulting schema."""

    fragment_id: int
    rows: int
    metadata: Any  # lance.fragment.FragmentMetadata
    schema: Any  # lance.LanceSchema


class FragmentRun:
    """Checkpoints of one distributed run: ``manifest.json`` + ``fragment-<id>.pkl`` per fragment."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def manifest(self) -> dict[str, Any] | None:
        """The stored manifest, or None (no run, or unreadable)."""
        try:
            found = json.loads((self.folder / "manifest.json").read_text())
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and found.keys() >= _MANIFEST_KEYS else None

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
        if self.folder.exists():
            log.warning("discarding checkpoints of an older run in %s", self.folder)
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.folder / "manifest.json", json.dumps(manifest, sort_keys=True).encode())
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
            # Our own file, written by this driver under the local state folder.
            found = pickle.loads(path.read_bytes())
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
        _atomic_write(self._path(result.fragment_id), pickle.dumps(result))

    def rows_done(self) -> int:
        """Rows in checkpointed fragments (for a status display; nothing is verified)."""
        rows = 0
        for path in self.folder.glob("fragment-*.pkl"):
            try:
                rows += pickle.loads(path.read_bytes()).rows
            except Exception:
                continue
        return rows

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def commit_fragments(
    uri: str,
    results: list[FragmentResult],
    *,
    read_version: int,
    storage_options: dict[str, str] | None,
) -> None:
    """Commit every fragment's new columns in one ``Merge`` version (read at ``read_version``).

    Raises:
        ConcurrentChangeError: another writer committed since ``read_version``; nothing of this
            run was committed.
    """
    import lance
    from lance import LanceOperation
    from lance.commit import CommitConflictError

    from workbench.errors import ConcurrentChangeError, CorruptStateError

    schemas = {id(r.schema): r.schema for r in results}
    first = results[0].schema
    if any(s != first for s in schemas.values()):
        raise CorruptStateError(
            "fragments of one run carry different schemas; delete the run's checkpoints "
            "(the state folder) and embed again"
        )
    operation = LanceOperation.Merge([r.metadata for r in results], first)
    try:
        lance.LanceDataset.commit(uri, operation, read_version=read_version, storage_options=storage_options)
    except CommitConflictError as exc:
        raise ConcurrentChangeError(
            f"another writer committed to {uri} while the column was computed; nothing was "
            f"committed ({str(exc).split(',')[0]}). Run `workbench embed` again to embed the "
            "current rows."
        ) from exc


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
