"""`workbench check` is a deploy check of the whole workspace: every table, or the ones named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import write_corpus
from workbench.cli.app import app
from workbench.embedding.ingest import ingest
from workbench.production.serving import check_tables
from workbench.store.workspace import Workspace

runner = CliRunner()


def run(ws: Workspace, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "-w", ws.uri], env={"HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    return result.exit_code, result.output


@pytest.mark.slow
def test_check_covers_every_table_and_fails_on_any(demo_ws: Workspace, tmp_path: Path) -> None:
    code, out = run(demo_ws, "check")
    assert code == 0 and "ok: production of 'demo'" in out  # one table: as before
    ingest(demo_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha")}), table="fresh")
    code, out = run(demo_ws, "check")
    assert code == 1
    assert "ok: production of 'demo'" in out and "FAILED: production of 'fresh'" in out
    code, out = run(demo_ws, "check", "--table", "demo")
    assert code == 0 and "fresh" not in out
    code, out = run(demo_ws, "check", "-t", "demo", "-t", "fresh", "--json")
    data = json.loads(out[out.index("{") :])
    assert code == 1 and data["ok"] is False
    assert [(t["table"], t["ok"]) for t in data["tables"]] == [("demo", True), ("fresh", False)]
    code, out = run(demo_ws, "check", "-t", "demo", "-t", "nope")
    assert code == 2 and "no table 'nope'" in out


def test_an_empty_workspace_fails_the_check(empty_ws: Workspace) -> None:
    assert check_tables(empty_ws) == []
    code, out = run(empty_ws, "check")
    assert code == 1 and "has no corpus table" in out
