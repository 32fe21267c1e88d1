"""Paths from a user: NUL bytes and empty paths are one-line errors; the app's workspace is confined."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import InvalidArgumentError
from workbench.store.paths import confine_workspace, local_path, require_inside
from workbench.store.workspace import open_workspace


@pytest.mark.parametrize("bad", ["a\x00b", "", "  "])
def test_paths_no_file_system_can_hold_are_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"NUL byte|is empty"):
        local_path(bad)
    with pytest.raises(InvalidArgumentError, match=r"NUL byte|is empty"):
        require_inside(bad, tmp_path)
    with pytest.raises(InvalidArgumentError, match=r"NUL byte|is empty"):
        confine_workspace(bad, None)


def test_a_nul_byte_in_a_workspace_path_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"workspace path .* contains a NUL byte"):
        open_workspace(str(tmp_path / "ws\x00x"))
    with pytest.raises(InvalidArgumentError, match=r"NUL byte"):
        open_workspace(tmp_path / "ws", config_path=str(tmp_path / "c\x00.toml"))
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_loop_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(InvalidArgumentError):
        require_inside(tmp_path / "loop" / "x", tmp_path)


def test_the_app_workspace_is_confined_to_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert confine_workspace(str(root / "ws"), root) == str((root / "ws").resolve())
    assert confine_workspace("s3://bucket/ws", None) == "s3://bucket/ws"
    for bad in ("s3://bucket/ws", "memory://", str(tmp_path / "ws"), str(root / ".." / "ws")):
        with pytest.raises(InvalidArgumentError, match="WORKBENCH_ALLOWED_ROOT"):
            confine_workspace(bad, root)
