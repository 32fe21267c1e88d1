"""Which table a command means when --table is not given: the only one, the configured default,
or the only one with the named column, said on stderr; anything else stays an error."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import write_corpus
from workbench.cli.app import app
from workbench.embedding.ingest import ingest
from workbench.store.workspace import Workspace

runner = CliRunner()


def _second_table(ws: Workspace, tmp_path: Path) -> None:
    ingest(ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha")}), table="fresh")


def test_the_only_table_with_the_column_is_used_and_named(
    compared_ws: Workspace, comparison_id: str, tmp_path: Path
) -> None:
    _second_table(compared_ws, tmp_path)
    result = runner.invoke(app, ["gate", "minilm-l6", "-c", comparison_id, "-w", compared_ws.uri])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "table 'demo' (the only table with minilm-l6; --table NAME to choose)"
    ]
    assert result.stdout.startswith("GO")


def test_several_tables_without_a_rule_stay_an_error(compared_ws: Workspace, tmp_path: Path) -> None:
    _second_table(compared_ws, tmp_path)
    result = runner.invoke(app, ["rollback", "-w", compared_ws.uri])
    assert result.exit_code == 2
    assert "several tables (demo, fresh): name one with --table NAME" in result.stderr
    assert 'default_table = "NAME"' in result.stderr


def test_the_configured_default_table_is_used_and_named(compared_ws: Workspace, tmp_path: Path) -> None:
    _second_table(compared_ws, tmp_path)
    config = Path(compared_ws.uri) / "workbench.toml"
    config.write_text('default_table = "demo"\n' + (config.read_text() if config.exists() else ""))
    result = runner.invoke(app, ["rollback", "-w", compared_ws.uri])
    assert result.exit_code == 2  # demo's production has no earlier version: the table was picked
    assert result.stderr.splitlines()[0] == (
        "table 'demo' (default_table in workbench.toml; --table NAME to choose)"
    )
