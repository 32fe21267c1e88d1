"""``workbench app`` carries the project's Streamlit config as flags (Streamlit reads it only from the cwd)."""

from __future__ import annotations

from pathlib import Path

from workbench.cli.serve_app import app_entry, config_flags


def test_the_apps_streamlit_config_becomes_flags_wherever_it_starts() -> None:
    flags = config_flags(app_entry().parent / ".streamlit" / "config.toml")
    pairs = dict(zip(flags[::2], flags[1::2], strict=True))
    assert pairs["--client.toolbarMode"] == "minimal"  # no Deploy button
    assert pairs["--client.showSidebarNavigation"] == "false"  # the grouped navigation only
    assert pairs["--theme.base"] == "light" and pairs["--theme.primaryColor"].startswith("#")
    assert pairs["--server.fileWatcherType"] == "none"


def test_no_config_file_no_flags(tmp_path: Path) -> None:
    assert config_flags(tmp_path / "config.toml") == []
