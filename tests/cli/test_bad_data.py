"""Bad paths and damaged workspace data are one line and exit 2 in the CLI (issue 22, items 4 and 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli.app import app

runner = CliRunner()


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _one_line_exit_2(args: list[str], *fragments: str) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("command", ["ingest", "status"])
def test_a_nul_byte_in_the_workspace_is_one_line(command: str, tmp_path: Path) -> None:
    corpus = _jsonl(tmp_path / "c.jsonl", [{"_id": "a", "text": "alpha"}])
    args = ["ingest", str(corpus)] if command == "ingest" else ["status"]
    _one_line_exit_2([*args, "-w", str(tmp_path / "w\x00s")], "NUL byte")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl"]


def test_a_nul_byte_in_a_path_argument_is_one_line(tmp_path: Path) -> None:
    _one_line_exit_2(["ingest", str(tmp_path / "c\x00.jsonl"), "-w", str(tmp_path / "ws")], "null byte")
    assert not (tmp_path / "ws").exists()
