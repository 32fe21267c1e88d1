"""A table that cannot be written is named as such, never as a concurrent command (issue 22, item 9).

The disk is real: a read-only bind mount over the table folder (even root cannot write through
it), while the workspace's state folder stays writable, so the production lock is taken and the
first write that fails is the claim tag itself.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.demo import NEW_MODEL
from workbench.store.workspace import Workspace

runner = CliRunner()


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")


@pytest.fixture
def read_only_table(demo_ws: Workspace) -> Iterator[Path]:
    """The demo workspace with its ``demo.lance`` folder mounted read-only."""
    folder = Path(demo_ws.uri) / "demo.lance"
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,ro,bind", str(folder))
        yield Path(demo_ws.uri)
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def test_retire_on_a_read_only_table_says_it_is_not_writable(read_only_table: Path) -> None:
    tags = sorted((read_only_table / "demo.lance" / "_refs" / "tags").iterdir())
    result = runner.invoke(
        app, ["retire", NEW_MODEL, "--grace", "0", "--reason", "x", "-w", str(read_only_table)]
    )
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "read-only or not writable" in lines[0], result.output
    assert "another retirement" not in lines[0]
    assert sorted((read_only_table / "demo.lance" / "_refs" / "tags").iterdir()) == tags


@pytest.fixture
def promoted(demo_ws: Workspace) -> Workspace:
    """The demo with a second production move (so a rollback has somewhere to go)."""
    result = runner.invoke(app, ["promote", NEW_MODEL, "--force", "--reason", "test", "-w", demo_ws.uri])
    assert result.exit_code == 0, result.output
    return demo_ws


def test_rollback_on_a_read_only_table_says_it_is_not_writable(promoted: Workspace) -> None:
    folder = Path(promoted.uri) / "demo.lance"
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,ro,bind", str(folder))
        tags = sorted((folder / "_refs" / "tags").iterdir())
        result = runner.invoke(app, ["rollback", "--reason", "x", "-w", promoted.uri])
        assert result.exit_code == 2, (result.output, result.exception)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "read-only or not writable" in lines[0], result.output
        assert sorted((folder / "_refs" / "tags").iterdir()) == tags
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
