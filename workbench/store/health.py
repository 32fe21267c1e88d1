"""Missing and stale rows of a vector column, counted once per table version.

Counting reads the scalar ``src__`` and ``content_hash`` columns of every row (about 0.3–0.8 s
per column at 1M rows), and ``status``, ``check``, serving start-up and the gate ask the same
question of the same version again and again. A Lance version never changes once committed,
so the answer is memoised per version: for a local table, one small JSON file per
``(version, column)`` in the machine's cache (``$WORKBENCH_CACHE/health/``, never inside the
workspace: a command that only reads writes nothing there), keyed by the table's path and its
first data file (random per table, so a table dropped and re-created under the same name with
the same version numbers never meets the old answers). Object-store tables are counted every
time. A memo that cannot be written (read-only disk) is skipped, never an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cache import cache_dir
from workbench.store.storage import is_remote

if TYPE_CHECKING:
    from lance import LanceDataset

    from workbench.store.workspace import VectorColumn

__all__ = ["count_problems"]

log = logging.getLogger(__name__)


def count_problems(dataset: LanceDataset, column: VectorColumn, *, read_vectors: bool) -> tuple[int, int]:
    """``(missing_rows, stale_rows)`` of ``column`` at the dataset's version (memoised, see above).

    Missing: no vector (with ``read_vectors=False``: no source hash, which the workbench writes
    together with the vector). Stale: the source hash differs from the row's ``content_hash``.
    """
    memo = _memo_path(dataset, column, read_vectors)
    if memo is not None:
        try:
            missing, stale = json.loads(memo.read_text())
            return int(missing), int(stale)
        except (OSError, ValueError, TypeError):
            pass
    found = _count(dataset, column, read_vectors)
    if memo is not None:
        _write(memo, json.dumps(list(found)))
    return found


def _count(dataset: LanceDataset, column: VectorColumn, read_vectors: bool) -> tuple[int, int]:
    missing = f"{column.name} IS NULL" if read_vectors else f"{column.src_column} IS NULL"
    stale = f"{column.src_column} IS NOT NULL AND {column.src_column} != content_hash"
    return dataset.count_rows(filter=missing), dataset.count_rows(filter=stale)


def _memo_path(dataset: LanceDataset, column: VectorColumn, read_vectors: bool) -> Path | None:
    uri = str(dataset.uri)
    if is_remote(uri) or not uri.endswith(".lance"):
        return None
    fragments = dataset.get_fragments()
    if not fragments:
        return None  # nothing to count, and nothing that identifies the table
    files = fragments[0].data_files()
    first = files[0].path if files else str(fragments[0].fragment_id)
    table = Path(uri).resolve()
    key = f"{table}|{dataset.version}|{first}|{column.name}|{column.src_column}|{read_vectors}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    where = hashlib.sha256(str(table).encode()).hexdigest()[:16]
    return cache_dir() / "health" / f"{table.stem}-{where}" / f"v{dataset.version}-{digest}.json"


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("could not memoise column health at %s: %s", path, exc)
