"""The foundation CLI: exit codes, messages, JSON, and nothing written on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.corpus.test_readers import DOCS, QUERIES, write_beir
from workbench.cli.app import app
from workbench.store.workspace import open_workspace

runner = CliRunner()


def test_ingest_then_status_json(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "mini", DOCS, QUERIES, "q1\ta\t1\n")
    ws = str(tmp_path / "ws")
    result = runner.invoke(app, ["ingest", str(folder), "--workspace", ws])
    assert result.exit_code == 0, result.output
    assert "table 'mini': 2 documents" in result.output
    status = runner.invoke(app, ["status", "-w", ws, "--json"])
    data = json.loads(status.output)
    assert data["tables"][0]["name"] == "mini" and data["tables"][0]["rows"] == 2
    assert data["eval_sets"][0]["n_judged"] == 1


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "mini", DOCS, QUERIES, "q1\tghost\t1\n")
    ws = tmp_path / "ws"
    result = runner.invoke(app, ["ingest", str(folder), "-w", str(ws)])
    assert result.exit_code == 2
    assert "error:" in result.output and "'ghost'" in result.output
    assert open_workspace(ws).table_names(include_internal=True) == []
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "-w", str(ws)])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output


def test_unknown_model_alias_lists_the_known_ones(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "mini", DOCS, QUERIES, None)
    ws = str(tmp_path / "ws")
    runner.invoke(app, ["ingest", str(folder), "-w", ws])
    result = runner.invoke(app, ["embed", "--model", "latest-and-greatest", "-w", ws])
    assert result.exit_code == 2 and "known aliases: minilm-l3, minilm-l6" in result.output


def test_models_lists_the_catalog_with_pins(tmp_path: Path) -> None:
    result = runner.invoke(app, ["models", "-w", str(tmp_path / "ws"), "--json"])
    rows = {r["alias"]: r for r in json.loads(result.output)}
    assert rows["minilm-l6"]["revision"] == "0.1.0" and rows["minilm-l6"]["builtin"]
    assert rows["minilm-l3"]["column"].startswith("vec__paraphrase_minilm_l3_v2__")


def test_importing_the_library_does_not_import_streamlit() -> None:
    code = "import sys, workbench, workbench.cli; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("before", [True, False], ids=["workspace-before-command", "workspace-after-command"])
def test_workspace_option_before_or_after_the_command(tmp_path: Path, before: bool) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()  # status only reads: it does not create a missing workspace (see test_hardening)
    args = ["--workspace", str(ws), "status"] if before else ["status", "--workspace", str(ws)]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["workspace"] == str(ws)


def test_command_workspace_wins_over_the_global_one(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    result = CliRunner().invoke(
        app, ["-w", str(tmp_path / "a"), "status", "-w", str(tmp_path / "b"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["workspace"] == str(tmp_path / "b")


def test_ingest_help_says_the_table_defaults_to_the_folder_name() -> None:
    result = CliRunner().invoke(app, ["ingest", "--help"])
    text = " ".join(result.stdout.replace("│", " ").split())  # undo rich's wrapping inside the box
    assert "(default: the folder or file name)" in text
    assert "the only one" not in text


def test_every_command_module_is_registered_on_the_app() -> None:
    import importlib
    import pkgutil

    import typer

    import workbench.cli

    def names(target: typer.Typer) -> set[str]:
        found = {c.name or (c.callback.__name__ if c.callback else "") for c in target.registered_commands}
        return found | {g.name or "" for g in target.registered_groups}

    registered = names(app)
    for info in pkgutil.iter_modules(workbench.cli.__path__, "workbench.cli."):
        module = importlib.import_module(info.name)
        if not hasattr(module, "register") or info.name.endswith(".app"):
            continue
        probe = typer.Typer()
        module.register(probe)
        assert names(probe) <= registered, f"{info.name} is not registered in workbench/cli/app.py"
