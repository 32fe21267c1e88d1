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


# --- damaged workspace data (issue 22, item 9) -----------------------------------------------------

COMMANDS = {
    "status": ["status"],
    "check": ["check"],
    "search": ["search", "how do I roll back"],
    "compare": ["compare", "--baseline", "minilm-l3", "--candidate", "minilm-l6", "--eval-set", "demo"],
    "rollback": ["rollback", "--reason", "test"],
}


def _garbage_data(ws: Path) -> None:
    for data in (ws / "demo.lance" / "data").glob("*.lance"):
        data.write_bytes(bytes(range(256)) * (data.stat().st_size // 256 + 1))


def _junk_tag(ws: Path) -> None:
    (ws / "demo.lance" / "_refs" / "tags" / "production.json").write_text("junk{{")


@pytest.mark.parametrize(
    ("damage", "command"),
    [
        (_garbage_data, "status"),
        (_garbage_data, "search"),
        (_garbage_data, "compare"),
        (_junk_tag, "status"),
        (_junk_tag, "check"),
        (_junk_tag, "search"),
        (_junk_tag, "rollback"),
    ],
)
def test_damaged_data_files_and_tags_are_one_line(demo_ws, damage, command: str) -> None:  # type: ignore[no-untyped-def]
    ws = Path(demo_ws.uri)
    damage(ws)
    _one_line_exit_2([*COMMANDS[command], "-w", str(ws)], "workspace data is missing or damaged")


def test_check_reports_garbage_data_without_a_traceback(demo_ws) -> None:  # type: ignore[no-untyped-def]
    ws = Path(demo_ws.uri)
    _garbage_data(ws)
    result = runner.invoke(app, ["check", "-w", str(ws)])
    assert (result.exit_code in (1, 2) and result.exception is None) or isinstance(
        result.exception, SystemExit
    )
    assert "workspace data is missing or damaged" in result.output


@pytest.mark.parametrize("command", ["status", "check", "search", "compare", "rollback"])
def test_a_config_that_is_a_folder_is_one_line(demo_ws, command: str) -> None:  # type: ignore[no-untyped-def]
    ws = Path(demo_ws.uri)
    (ws / "workbench.toml").unlink(missing_ok=True)
    (ws / "workbench.toml").mkdir()
    _one_line_exit_2(
        [*COMMANDS[command], "-w", str(ws)], f"workbench.toml at {ws / 'workbench.toml'} is a folder"
    )


def test_a_deeply_nested_json_line_is_a_data_error_naming_the_line(tmp_path: Path) -> None:
    corpus = tmp_path / "deep.jsonl"
    deep = '{"_id": "b", "text": "x", "meta": ' + "[" * 200_000 + "]" * 200_000 + "}"
    corpus.write_text(json.dumps({"_id": "a", "text": "alpha"}) + "\n" + deep + "\n")
    line = _one_line_exit_2(
        ["ingest", str(corpus), "-w", str(tmp_path / "ws")], "line 2 is nested too deeply"
    )
    assert str(corpus) in line and "restore" not in line.lower()
    assert not (tmp_path / "ws").exists()
