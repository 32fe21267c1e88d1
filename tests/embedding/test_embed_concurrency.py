"""Two `workbench embed` of the same column at once: the second refuses clearly (issue 22, item 6d).

They used to share one checkpoint folder with a fixed ``manifest.tmp``: the loser said "workspace
data is missing or damaged… restore from a backup" (16 of 20 tries), once with a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, write_corpus
from workbench.demo import OLD_MODEL
from workbench.embedding.checkpoint import exclusive_run
from workbench.embedding.ingest import ingest
from workbench.models.catalog import CATALOG
from workbench.store.status import column_problems
from workbench.store.workspace import Workspace, open_workspace

COLUMN = CATALOG[OLD_MODEL].column
_CLI = "import sys; from workbench.cli.app import main; sys.argv = ['workbench', *sys.argv[1:]]; main()"
_GO_CLI = """
import pathlib, sys, time
from workbench.cli.app import main
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.002)
sys.argv = ["workbench", *sys.argv[2:]]
main()
"""
_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _mini(folder: Path) -> Workspace:
    docs = {f"d{i:03d}": (f"Title {i}", f"Document number {i} about topic {i % 7}.") for i in range(60)}
    ws = open_workspace(folder / "ws")
    ingest(ws, write_corpus(folder / "mini.jsonl", docs), table="mini")
    return ws


def _checkpoint_files(ws: Workspace) -> list[str]:
    return sorted(str(p.relative_to(ws.state_dir)) for p in ws.state_dir.rglob("*") if p.is_file())


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and "it/s]" not in line]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow
def test_an_embed_of_a_column_being_embedded_refuses(tmp_path: Path) -> None:
    ws = _mini(tmp_path)
    with exclusive_run(ws.state_dir, "mini", COLUMN):  # this test process is "the first embed"
        before = _checkpoint_files(ws)
        done = subprocess.run(
            [sys.executable, "-c", _CLI, "embed", "--model", OLD_MODEL, "-t", "mini", "-w", ws.uri],
            cwd=REPO,
            env=_ENV,
            capture_output=True,
            text=True,
            timeout=300,
        )
        after = _checkpoint_files(ws)
    assert done.returncode == 2, (done.stdout, done.stderr)
    line = _one_line(done.stderr)
    assert line.startswith(
        f"error: another `workbench embed` of {COLUMN} into 'mini' is running: an embed of {COLUMN} "
        f"into 'mini' by pid {os.getpid()} on "
    ), line
    assert "backup" not in line
    assert after == before  # nothing written: no checkpoint, no manifest
    assert COLUMN not in ws.table("mini").schema.names


@pytest.mark.slow
def test_two_embeds_racing(tmp_path: Path) -> None:
    """Released at the same instant: one embeds; the other refuses in one line or finds the column made."""
    for attempt in range(3):
        ws = _mini(tmp_path / f"try{attempt}")
        go = tmp_path / f"go{attempt}"
        args = ["embed", "--model", OLD_MODEL, "-t", "mini", "-w", ws.uri]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _GO_CLI, str(go), *args],
                cwd=REPO,
                env=_ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        time.sleep(3.0)
        go.touch()
        results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        codes = sorted(code for code, _, _ in results)
        assert codes in ([0, 0], [0, 2]), results
        for code, _, err in results:
            assert "Traceback" not in err and "backup" not in err and "damaged" not in err, err
            if code == 2:
                assert "another `workbench embed` of" in _one_line(err)
        table = ws.table("mini")
        assert COLUMN in table.schema.names
        column = next(c for c in ws.vector_columns(table) if c.name == COLUMN)
        assert column_problems(table, column, read_vectors=True) == (0, 0)
