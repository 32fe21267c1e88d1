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


# --- two production moves at once (issue 22, item 6) ---------------------------------------------
#
# Real `workbench` processes, started together: each imports the CLI, then waits for a shared
# "go" file, so their moves overlap as closely as two users' commands can.

_GO_CODE = """
import pathlib, sys, time
from workbench.cli.app import main
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.002)
sys.argv = ["workbench", *sys.argv[2:]]
main()
"""
_TRIES = 10


def _start_cli(go: Path, ws: Workspace, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, "-c", _GO_CODE, str(go), *args, "-w", ws.uri],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _race(tmp_path: Path, ws: Workspace, *commands: list[str]) -> list[tuple[int, str, str]]:
    """Run ``commands`` as CLI processes released at the same instant; (exit code, stdout, stderr) each."""
    go = tmp_path / f"go-{time.monotonic_ns()}"
    procs = [_start_cli(go, ws, *args) for args in commands]
    time.sleep(3.0)  # every process has imported the CLI and waits for the go file
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append((proc.returncode, out, err))
    return results


def _raw_history(ws: Workspace) -> list[dict[str, Any]]:
    """Every stored history row (not deduplicated as :func:`history` lists them)."""
    from workbench.contract import PROMOTIONS_TABLE
    from workbench.store.records import read_records

    data = read_records(ws, PROMOTIONS_TABLE, columns=["action", "tag", "to_version", "to_column", "reason"])
    return data.to_pylist() if data is not None else []


def _check_consistent(
    ws: Workspace, results: list[tuple[int, str, str]], before: int
) -> list[dict[str, Any]]:
    """Every process exited 0 or refused in one line; one history record per successful move."""
    from workbench.store.production import ledger, unfinished

    for code, out, err in results:
        assert code in (0, 2), (code, out, err)
        assert "Traceback" not in err and "finished an interrupted command" not in out, (out, err)
        if code == 2:
            lines = [line for line in err.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), lines
    table = ws.table("demo")
    book = ledger(table)
    assert unfinished(table) == [] and book.production == book.live[book.top]  # type: ignore[index]
    rows = _raw_history(ws)
    tags = [r["tag"] for r in rows]
    assert len(tags) == len(set(tags)), tags  # one record per move
    new = rows[before:]
    assert len(new) == sum(code == 0 for code, _, _ in results), (new, results)
    return new


def _serve(ws: Workspace, column: str) -> None:
    """Make ``column`` production again (forced: the tests race moves, not the gate)."""
    from workbench.store.production import production_column

    if production_column(ws.table("demo")) != column:
        promote(ws, "demo", column, force=True, reason="reset between tries")


@pytest.mark.slow
def test_promote_and_rollback_racing_never_interleave(compared_ws: Workspace, tmp_path: Path) -> None:
    """Either one refuses (one line, nothing written), or the two ran one after the other.

    Production serves NEW over OLD; one process promotes OLD, the other rolls back. In order,
    promote-then-rollback leaves NEW with two records (the rollback undoes the promotion), and
    rollback-then-promote refuses the promotion (OLD already is production). Anything else, such
    as a rollback that undid NEW while the promotion of OLD went in on top, is an interleaving.
    """
    promote(compared_ws, "demo", NEW, force=True, reason="race setup")
    outcomes = []
    for _ in range(_TRIES):
        _serve(compared_ws, NEW)
        before = len(_raw_history(compared_ws))
        results = _race(
            tmp_path,
            compared_ws,
            ["promote", OLD, "--force", "--reason", "race promote"],
            ["rollback", "--reason", "race rollback"],
        )
        new = _check_consistent(compared_ws, results, before)
        codes = tuple(code for code, _, _ in results)
        outcomes.append(codes)
        if codes == (0, 0):  # promote, then rollback of that very promotion
            promoted, rolled = new
            assert (promoted["action"], rolled["action"]) == ("promote", "rollback"), new
            assert rolled["tag"] == promoted["tag"].replace("production-", "rolled-back-"), new
            assert rolled["to_column"] == NEW, new
    print("promote/rollback outcomes (exit codes):", outcomes)


@pytest.mark.slow
def test_two_promoters_of_one_column(compared_ws: Workspace, tmp_path: Path) -> None:
    """One promotes; the other refuses, and never claims to have finished an interrupted command."""
    for _ in range(_TRIES // 2):
        _serve(compared_ws, OLD)
        before = len(_raw_history(compared_ws))
        args = ["promote", NEW, "--force", "--reason", "race"]
        results = _race(tmp_path, compared_ws, args, args)
        _check_consistent(compared_ws, results, before)
        assert sorted(code for code, _, _ in results) == [0, 2], results


@pytest.mark.slow
@pytest.mark.parametrize("command", [["rollback"], ["promote", NEW, "--force", "--reason", "r"], ["refresh"]])
def test_a_move_refuses_while_another_runs(compared_ws: Workspace, command: list[str]) -> None:
    """A move started while another holds the table refuses in one line, having read and written nothing."""
    from tests.conftest import lifecycle_snapshot
    from workbench.production.recovery import move_lock

    before = lifecycle_snapshot(compared_ws)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    code = "import sys; from workbench.cli.app import main; sys.argv = ['workbench', *sys.argv[1:]]; main()"
    with move_lock(compared_ws, "demo", "promote"):  # this test process is "the other move"
        done = subprocess.run(
            [sys.executable, "-c", code, *command, "-w", compared_ws.uri],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"error: another production move of 'demo' is running: a promote of 'demo' by pid {os.getpid()} on "
    ), lines[0]
    assert "this command read and changed nothing" in lines[0]
    assert lifecycle_snapshot(compared_ws) == before
