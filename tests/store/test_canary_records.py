"""Recording a canary re-check is best-effort: `check` and `models verify` work on a read-only or full disk.

The verification runs and decides the exit code; only its record (``wb_canary_checks``) is
skipped, and the command says so in one line. Both disks are real: a read-only bind mount and
a full tmpfs (mounting needs privileges; the tests skip cleanly without them).
"""

from __future__ import annotations

import errno
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.contract import CANARY_CHECKS_TABLE
from workbench.demo import OLD_MODEL
from workbench.store.workspace import Workspace, open_workspace

runner = CliRunner()


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")


def _read_only(source: Path, mount: Path) -> None:
    """``mount`` shows ``source`` read-only (a bind mount: even root cannot write through it)."""
    _mount("--bind", str(source), str(mount))
    _mount("-o", "remount,ro,bind", str(mount))


def _full(source: Path, mount: Path) -> None:
    """A copy of ``source`` on a small tmpfs with every free byte taken."""
    size = sum(f.stat().st_size + 4096 for f in source.rglob("*") if f.is_file())
    _mount("-t", "tmpfs", "-o", f"size={size // 2**20 + 4}m", "tmpfs", str(mount))
    shutil.copytree(source, mount / "ws")
    with (mount / "filler").open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


@pytest.fixture(params=["read-only", "full"])
def unwritable(request: pytest.FixtureRequest, demo_ws: Workspace, tmp_path: Path) -> Iterator[Path]:
    """The demo workspace on a disk that takes no writes (``request.param``: read-only or full)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        if request.param == "read-only":
            _read_only(Path(demo_ws.uri), mount)
            yield mount
        else:
            _full(Path(demo_ws.uri), mount)
            yield mount / "ws"
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def _recorded(workspace: Path) -> int:
    return open_workspace(workspace).db.open_table(CANARY_CHECKS_TABLE).count_rows()


def test_check_verifies_on_an_unwritable_disk_and_says_the_record_was_skipped(unwritable: Path) -> None:
    before = _recorded(unwritable)
    result = runner.invoke(app, ["check", "-w", str(unwritable)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: production of 'demo'")
    notes = [line for line in result.stdout.splitlines() if "not recorded" in line]
    assert len(notes) == 1 and "canary check" in notes[0] and "passed" in notes[0], result.stdout
    assert _recorded(unwritable) == before


def test_models_verify_on_an_unwritable_disk_says_the_record_was_skipped(unwritable: Path) -> None:
    before = _recorded(unwritable)
    result = runner.invoke(app, ["models", "verify", OLD_MODEL, "-w", str(unwritable)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{OLD_MODEL}: ok; min cosine")
    lines = [line for line in result.stderr.splitlines() if line.strip() and "it/s]" not in line]
    assert len(lines) == 1 and "not recorded" in lines[0], lines
    assert _recorded(unwritable) == before


def test_check_on_a_read_only_disk_still_fails_on_a_real_problem(demo_ws: Workspace, tmp_path: Path) -> None:
    for data in (Path(demo_ws.uri) / "demo.lance" / "data").glob("*.lance"):
        data.write_bytes(b"")  # damaged before the disk became read-only
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        _read_only(Path(demo_ws.uri), mount)
        result = runner.invoke(app, ["check", "-w", str(mount)])
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
    assert result.exit_code == 1 and result.stdout.startswith("FAILED: production of 'demo'"), result.output
    assert "workspace data is missing or damaged" in result.stderr
