"""Every command's ``--help`` renders as written: examples verbatim, prose wrapped whole, 80 columns."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from workbench.cli.app import app

ROOT = typer.main.get_command(app)


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, group)]
    for name, command in getattr(group, "commands", {}).items():
        found += _commands(command, (*path, name))
    return found


COMMANDS = _commands(ROOT)


def _texts(command: Any) -> list[str]:
    """The help texts the command's page shows: its own and every parameter's."""
    texts = [command.help or ""]
    texts += [getattr(p, "help", None) or "" for p in command.params]
    return [inspect.cleandoc(t).partition("\f")[0] for t in texts if t]


def _words(text: str) -> str:
    """Words in order; a line break after a hyphen (where the wrapper may split a word) dropped."""
    return re.sub(r"-\s+", "-", " ".join(text.split()))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "workbench" for p, _ in COMMANDS])
def test_help_renders_as_written(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert not set("╭│╰") & set(out), "help is drawn in boxes that re-wrap the text inside them"
    assert all(len(line) <= 80 for line in out.splitlines()), [x for x in out.splitlines() if len(x) > 80]
    for text in _texts(command):
        for paragraph in text.split("\n\n"):
            if paragraph.startswith("\b"):  # an example: every line verbatim, brackets and all
                for line in paragraph.strip("\b\n").splitlines():
                    assert line.rstrip() in out, f"{line!r} lost from `{' '.join(path)} --help`"
            else:  # prose: re-wrapped whole, every word kept in order
                assert _words(paragraph) in _words(out), f"{paragraph!r} garbled in `{' '.join(path)} --help`"


def test_promote_help_keeps_the_gate_toml_example() -> None:
    out = CliRunner().invoke(app, ["promote", "--help"], terminal_width=80).stdout
    example = [
        'primary = "ndcg@10"',
        "[min_ci_low]",
        '"ndcg@10" = -0.005',
        "[min_delta]",
        '"recall@100" = -0.005',
    ]
    lines = [line.strip() for line in out.splitlines()]
    start = lines.index(example[0])
    assert lines[start : start + 7] == [example[0], "superiority = false", "min_queries = 50", *example[1:]]
