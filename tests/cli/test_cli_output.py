"""What the CLI prints is inert and short: no terminal escapes from data, one line per error.

Issue 22 items 9 and 10: escape sequences in a title reached the terminal, usage errors were
a five-line box, ``history -t nope`` printed nothing, a bad eval-set name left the table behind.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import write_corpus
from workbench.cli.app import app
from workbench.cli.common import emit_json, terminal_text
from workbench.embedding.ingest import ingest
from workbench.store.workspace import Workspace

runner = CliRunner()

RED = "\x1b[31m"
RESET = "\x1b[0m"
LINK = "\x1b]8;;http://x\x1b\\"
END_LINK = "\x1b]8;;\x1b\\"
CLI = Path(__file__).resolve().parents[2] / "workbench" / "cli"


def one_line_exit_2(args: list[str], match: str) -> str:
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip() and "it/s]" not in line]
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert len(lines) == 1, lines
    assert re.search(match, lines[0]), lines[0]
    return lines[0]


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")} if folder.exists() else set()


def _beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(json.dumps({"_id": "a", "text": "alpha"}) + "\n")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "alpha?"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("q1\ta\t1\n")
    return folder


# --- item 10: terminal output ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (f"{RED}red{RESET} title", "red title"),
        (f"see {LINK}the link{END_LINK} here", "see the link here"),
        ("\x1b]0;window title\x07kept", "kept"),
        ("bell\x07 back\x08space cr\roverwrite", "bell backspace croverwrite"),
        ("8-bit \x9b31mcsi \x9d8;;u\x9clink \x85nel", "8-bit csi link nel"),
        ("lines\nand\ttabs stay", "lines\nand\ttabs stay"),
        ("\x1bc reset \x1b[2J clear \x1b[?1049h alt", " reset  clear  alt"),
        ("ünïcödé 日本 ✓", "ünïcödé 日本 ✓"),
        (42, "42"),
    ],
)
def test_terminal_text_strips_escapes_and_keeps_the_visible_text(raw: object, shown: str) -> None:
    assert terminal_text(raw) == shown


def test_every_cli_printer_goes_through_the_cleaning_helper() -> None:
    """Only ``cli/common.py`` calls typer's printers or ``print``; every other module uses ``echo``."""
    offenders = []
    for module in sorted(CLI.glob("*.py")):
        if module.name == "common.py":
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
            if (owner in ("typer", "click") and name in ("echo", "secho")) or name == "print":
                offenders.append(f"{module.name}:{node.lineno}")
    assert not offenders, offenders


def test_json_output_escapes_every_control_character(capsys: pytest.CaptureFixture[str]) -> None:
    data = {"title": f"a\x9bb{RED}c\x85d\x7f"}
    emit_json(data)
    out = capsys.readouterr().out
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", out)
    assert json.loads(out) == data  # the data itself is intact


@pytest.mark.slow
def test_search_prints_no_escape_from_a_title_or_text(
    demo_ws: Workspace, embedders: dict, tmp_path: Path
) -> None:
    title = f"{RED}Crimson{RESET} {LINK}linked page{END_LINK}"
    docs = {"evil": (title, f"zebra zebra {RED}zebras{RESET} zebra\r\x1b[2Kfake line")}
    ingest(demo_ws, write_corpus(tmp_path / "evil.jsonl", docs), table="demo", embedders=embedders)
    assert runner.invoke(app, ["refresh", "-w", demo_ws.uri]).exit_code == 0  # serve the new document
    result = runner.invoke(app, ["search", "zebra zebras", "-w", demo_ws.uri, "--k", "3"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert "evil  Crimson linked page" in result.stdout
    assert "zebra zebra zebras zebra fake line" in result.stdout
    as_json = runner.invoke(app, ["search", "zebra zebras", "-w", demo_ws.uri, "--k", "3", "--json"])
    assert as_json.exit_code == 0 and title in [
        h["title"] for h in json.loads(as_json.stdout)["hits"]
    ]  # data intact


# --- item 9: one-line refusals, nothing written ----------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["ingest"], r"^error: missing argument 'path' \(see `workbench ingest --help`\)$"),
        (["nosuchcommand"], r"^error: no such command 'nosuchcommand'"),
        (
            ["search", "x", "--k", "many"],
            r"^error: invalid value for '--k' / '-k': .*integer",
        ),
        (["status", "--no-such-option"], r"^error: no such option: --no-such-option"),
        (["judge", "export"], r"^error: missing argument 'comparison' .*workbench judge export --help"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], match: str, tmp_path: Path) -> None:
    one_line_exit_2([*args, "-w", str(tmp_path / "ws")] if args != ["ingest"] else args, match)


def test_help_is_still_printed_in_full() -> None:
    result = runner.invoke(app, ["ingest", "--help"])
    assert result.exit_code == 0 and "--eval-set" in result.output
    bare = runner.invoke(app, [])
    assert "Embedding migration workbench" in bare.output and "ingest" in bare.output


def test_history_of_an_unknown_table_is_refused_with_the_tables(demo_ws: Workspace) -> None:
    one_line_exit_2(["history", "-t", "nope", "-w", demo_ws.uri], r"no table 'nope' .*tables: demo")
    ok = runner.invoke(app, ["history", "-t", "demo", "-w", demo_ws.uri])
    assert ok.exit_code == 0 and "#1" in ok.stdout


@pytest.mark.parametrize(
    ("option", "match"),
    [
        (["--eval-set", "../x"], r"eval set name '\.\./x' is not allowed"),
        (["--eval-set", "wb_x"], r"eval set name 'wb_x' is not allowed"),
        (["--eval-set", "e" * 300], r"eval set name of 300 characters is too long"),
        (["--eval-set", "ok\n"], r"eval set name 'ok\\n' is not allowed"),
        (["-t", "docs\n"], r"table name 'docs\\n' is not allowed"),
        (["--split", "dev"], r"no qrels/dev\.tsv \(splits there: test\)"),
    ],
)
def test_bad_names_write_nothing(option: list[str], match: str, tmp_path: Path) -> None:
    folder = _beir(tmp_path / "mini")
    workspace = tmp_path / "ws"
    one_line_exit_2(["ingest", str(folder), *option, "-w", str(workspace)], match)
    assert not workspace.exists()
    runner.invoke(app, ["ingest", str(folder), "-t", "first", "-w", str(workspace)])
    before = _tree(workspace)
    one_line_exit_2(["ingest", str(folder), *option, "-w", str(workspace)], match)
    assert _tree(workspace) == before  # no table 'mini' left behind


def test_a_bad_eval_set_name_is_refused_for_a_plain_corpus_file_too(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"_id": "a", "text": "alpha"}) + "\n")
    workspace = tmp_path / "ws"
    one_line_exit_2(
        ["ingest", str(corpus), "--eval-set", "../x", "-w", str(workspace)],
        r"eval set name '\.\./x' is not allowed",
    )
    assert not workspace.exists()


def test_text_of_the_wrong_type_is_one_line(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"_id": "a", "text": 42}) + "\n")
    one_line_exit_2(
        ["ingest", str(corpus), "-w", str(tmp_path / "ws")],
        r"c\.jsonl:1: document 'a': 'text' must be a string, got int 42",
    )
