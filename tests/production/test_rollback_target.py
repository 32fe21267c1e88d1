"""A rollback verifies the target version's data files before it moves anything (issue 22, item 9)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lance
import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.store.workspace import Workspace

runner = CliRunner()


def _vector_file(ws: Workspace, version: int, column: str) -> Path:
    """The data file that holds ``column`` at ``version`` of the demo table."""
    dataset = lance.dataset(str(Path(ws.uri) / "demo.lance"), version=version)
    field = next(f.id() for f in dataset.lance_schema.fields() if f.name() == column)
    for fragment in dataset.get_fragments():
        for data in fragment.metadata.files:
            if field in data.fields:
                return Path(ws.uri) / "demo.lance" / "data" / data.path
    raise AssertionError(f"no data file holds {column}")


def _delete(path: Path) -> None:
    path.unlink()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", [_delete, _truncate])
def test_rollback_onto_a_damaged_target_is_refused_and_moves_nothing(
    demo_ws: Workspace, damage: Callable[[Path], None]
) -> None:
    uri = demo_ws.uri
    promoted = runner.invoke(app, ["promote", NEW_MODEL, "--force", "--reason", "test", "-w", uri])
    assert promoted.exit_code == 0, promoted.output
    table = demo_ws.table("demo")
    tags = table.tags.list()
    old_column = demo_ws.resolve_column(table, OLD_MODEL).name
    target_version = tags["production-1"]["version"]
    history = runner.invoke(app, ["history", "-w", uri, "--json"]).output
    damage(_vector_file(demo_ws, target_version, old_column))

    result = runner.invoke(app, ["rollback", "--reason", "bad deploy", "-w", uri])
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "workspace data is missing or damaged" in lines[0], result.output
    assert f"v{target_version}" in lines[0]
    assert demo_ws.table("demo").tags.list() == tags  # production not moved, nothing claimed
    assert runner.invoke(app, ["history", "-w", uri, "--json"]).output == history
