"""Missing and stale rows of a vector column, counted once per table version.

Counting reads the scalar ``src__`` and ``content_hash`` columns of every row (about 0.3–0.8 s
per column at 1M rows), and ``status``, ``check``, serving start-up and the gate ask the same
question of the same version again and again. A Lance version never changes once committed,
so the answer is memoised per version: for a local table, one small JSON file per
``(version, column)`` in the machine's cache (``$WORKBENCH_CACHE/health/``, never inside the
workspace: a command that only reads writes nothing there).

A memo must never vouch for data it did not see: files can be deleted, truncated or replaced
after a count (outside the workbench, by a bad restore, by a full disk). So before a memo is
read, every data and deletion file of the version is checked against the manifest, which
records each data file's name and size: a missing file or another size is the same
"workspace data is missing or damaged" error a search of those files gives
(:func:`workbench.store.failures.damaged`). And the memo is keyed by what it counted, the
name, size and modification time of each of those files (names are random per table, so a
table dropped and re-created under the same name and version numbers never meets the old
answers; a file rewritten in place is recounted). That costs one ``stat`` per file. A count
that fails on damaged data raises the same error. Object-store tables are counted every time
and their files are not checked (one request per file). A memo that cannot be written
(read-only or full disk) is skipped, never an error.
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
from workbench.store.failures import damaged, explain
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

    Raises:
        CorruptStateError: a file of the version is missing, has another size than the
            manifest records, or cannot be read.
    """
    files = _checked_files(dataset)
    memo = _memo_path(dataset, column, read_vectors, files)
    if memo is not None:
        try:
            missing, stale = json.loads(memo.read_text())
            return int(missing), int(stale)
        except (OSError, ValueError, TypeError):
            pass
    try:
        found = _count(dataset, column, read_vectors)
    except (OSError, RuntimeError, ValueError) as exc:
        error = explain(exc)
        if error is None:
            raise
        raise error from exc
    if memo is not None:
        _write(memo, json.dumps(list(found)))
    return found


def _count(dataset: LanceDataset, column: VectorColumn, read_vectors: bool) -> tuple[int, int]:
    missing = f"{column.name} IS NULL" if read_vectors else f"{column.src_column} IS NULL"
    stale = f"{column.src_column} IS NOT NULL AND {column.src_column} != content_hash"
    return dataset.count_rows(filter=missing), dataset.count_rows(filter=stale)


def _checked_files(dataset: LanceDataset) -> list[str] | None:
    """``name:size:mtime`` of each data and deletion file of the version, checked against the manifest.

    None for an object-store table (not checked). Files kept under another base path
    (``base_id``) are not checked either: their location is not this folder.

    Raises:
        CorruptStateError: a file is missing or its size differs from the manifest's.
    """
    uri = str(dataset.uri)
    if is_remote(uri):
        return None
    root = Path(uri)
    where = f"table {root.stem!r} v{dataset.version}"
    found = []
    for fragment in dataset.get_fragments():
        meta = fragment.metadata
        expected: list[tuple[str, int | None]] = [
            (f"data/{f.path}", f.file_size_bytes) for f in meta.files if f.base_id is None
        ]
        deletion = meta.deletion_file
        if deletion is not None and getattr(deletion, "base_id", None) is None:
            expected.append((deletion.path(fragment.fragment_id), None))
        for name, size in expected:
            try:
                stat = (root / name).stat()
            except FileNotFoundError:
                raise damaged(f"{where}: its file {name} is missing") from None
            if size and stat.st_size != size:
                raise damaged(
                    f"{where}: its file {name} has {stat.st_size:,} bytes, the manifest records {size:,}"
                )
            found.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return found


def _memo_path(
    dataset: LanceDataset, column: VectorColumn, read_vectors: bool, files: list[str] | None
) -> Path | None:
    uri = str(dataset.uri)
    if files is None or is_remote(uri) or not uri.endswith(".lance"):
        return None
    if not files:
        return None  # nothing to count, and nothing that identifies the table
    table = Path(uri).resolve()
    verified = hashlib.sha256("\n".join(files).encode()).hexdigest()
    key = f"{table}|{dataset.version}|{verified}|{column.name}|{column.src_column}|{read_vectors}"
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
