"""A reader in a second process stays consistent while this one promotes, rolls back,
dual-writes, refreshes and retires.

The reader is what a serving process does: it opens production once and keeps that
:class:`ProductionIndex` (the *pinned* view, which must never change), and it follows the tag
with :meth:`ProductionIndex.follow` on every iteration (each *followed* view must be coherent:
the searched column is the one its version names, with no missing or stale row, and a view
seen twice reads the same both times). Every read that breaks a rule, or raises, is counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, write_corpus
from workbench.contract import META_ACTIVE
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.models.catalog import CATALOG
from workbench.production.promote import promote, refresh, rollback
from workbench.production.retire import retire
from workbench.production.serving import ProductionIndex
from workbench.store.status import column_problems
from workbench.store.workspace import Workspace, open_workspace, table_metadata

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
QUERY = "which version of the model answers?"
_READY_TIMEOUT = 180.0
_READS_PER_STEP = 5


def _view(index: ProductionIndex) -> tuple[Any, ...]:
    """Everything a reader can observe of one view, as comparable values."""
    result = index.search(QUERY, k=5)
    return (
        result.version,
        result.column,
        tuple(h.id for h in result.hits),
        tuple(round(h.score, 5) for h in result.hits),
        index.table.count_rows(),
        table_metadata(index.table).get(META_ACTIVE),
    )


def _coherent(index: ProductionIndex, view: tuple[Any, ...]) -> bool:
    _, column, hits, _, _, active = view
    healthy = column_problems(index.table, index.column, read_vectors=False) == (0, 0)
    return column == active and len(hits) == 5 and healthy


def reader_main(ws_path: str, progress: str, stop: str, out: str) -> None:
    """The second process: read in a loop until ``stop`` exists, then write the counts to ``out``.

    After every read it writes the number of reads so far to ``progress`` (atomically).
    """
    pinned = ProductionIndex.open(open_workspace(ws_path), "demo")
    expected = _view(pinned)
    follower, seen = pinned, {pinned.version: expected}
    models = {pinned.column.name: pinned.embedder}  # a server keeps the models it has loaded
    counts: dict[str, Any] = {"reads": 0, "pinned_inconsistent": 0, "followed_inconsistent": 0, "errors": []}
    while not Path(stop).exists():
        counts["reads"] += 1
        try:
            counts["pinned_inconsistent"] += _view(pinned) != expected
            follower = follower.follow(models)
            models[follower.column.name] = follower.embedder
            view = _view(follower)
            stable = seen.setdefault(follower.version, view) == view
            counts["followed_inconsistent"] += not (stable and _coherent(follower, view))
        except Exception as exc:  # counted, never hidden: any exception is an inconsistent read
            counts["errors"].append(repr(exc))
        Path(progress + ".tmp").write_text(str(counts["reads"]))
        os.replace(progress + ".tmp", progress)
    counts["versions_followed"] = sorted(seen)
    counts["pinned_version"] = pinned.version
    Path(out).write_text(json.dumps(counts))


def _reads(progress: Path) -> int:
    return int(progress.read_text()) if progress.exists() else 0


def _wait_for_reads(proc: subprocess.Popen[bytes], progress: Path, at_least: int) -> None:
    """Block until the reader has done ``at_least`` reads (so every step overlaps reads)."""
    deadline = time.monotonic() + _READY_TIMEOUT
    while _reads(progress) < at_least:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the reader process stopped reading (exit code {proc.returncode})")
        time.sleep(0.05)


def _start_reader(ws: Workspace, folder: Path) -> tuple[subprocess.Popen[bytes], dict[str, Path]]:
    files = {name: folder / name for name in ("progress", "stop", "out.json")}
    code = "import sys; from tests.production.test_concurrency import reader_main; reader_main(*sys.argv[1:])"
    args = [str(files["progress"]), str(files["stop"]), str(files["out.json"])]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([sys.executable, "-c", code, ws.uri, *args], cwd=REPO, env=env)
    _wait_for_reads(proc, files["progress"], 1)
    return proc, files


@pytest.mark.slow
def test_reader_in_another_process_stays_consistent(
    compared_ws: Workspace, comparison_id: str, embedders, tmp_path: Path
) -> None:
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    proc, files = _start_reader(compared_ws, tmp_path)
    try:
        steps = [
            lambda: rollback(compared_ws, "demo"),
            lambda: promote(compared_ws, "demo", NEW, comparison=comparison_id),
            lambda: ingest(
                compared_ws,
                write_corpus(
                    tmp_path / "more.jsonl",
                    {"d0001": ("Rice", "Rinse it, then simmer."), "z1": ("Zebra", "Zebras sleep standing.")},
                ),
                table="demo",
                embedders=embedders,
            ),
            lambda: refresh(compared_ws, "demo"),
            lambda: retire(compared_ws, "demo", OLD, grace=timedelta(0)),
        ]
        for step in steps:
            before = _reads(files["progress"])
            step()  # the reader keeps reading during the step ...
            _wait_for_reads(proc, files["progress"], before + _READS_PER_STEP)  # ... and after it
    finally:
        files["stop"].touch()
        proc.wait(timeout=120)
    counts = json.loads(files["out.json"].read_text())
    print(
        "concurrent reader:",
        {k: v for k, v in counts.items() if k != "errors"},
        len(counts["errors"]),
        "errors",
    )
    assert counts["errors"] == []
    assert (counts["pinned_inconsistent"], counts["followed_inconsistent"]) == (0, 0)
    assert counts["reads"] >= _READS_PER_STEP * len(steps)
    assert len(counts["versions_followed"]) >= 4  # it did follow promotion, rollback, re-promotion, refresh
