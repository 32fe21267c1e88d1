"""``workbench app``: start the Streamlit app from a checkout or from an installed wheel."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import handled
from workbench.errors import NotFoundError

__all__ = ["app_entry", "config_flags", "register", "run_app"]


def register(app: typer.Typer) -> None:
    """Add the ``app`` command to the ``workbench`` CLI."""
    app.command("app")(run_app)


def app_entry() -> Path:
    """The app's entry script (next to ``pages/``): ``app.py`` of a checkout, or of the wheel's ``site``."""
    import workbench_app

    package = Path(workbench_app.__file__).resolve().parent
    for path in (package.parent / "app.py", package / "site" / "app.py"):
        if path.is_file() and (path.parent / "pages").is_dir():
            return path
    raise NotFoundError(f"the app is not installed next to {package}; reinstall the package")


def config_flags(config: Path) -> list[str]:
    """The app's ``.streamlit/config.toml`` as ``streamlit run`` flags (``--theme.base light`` …).

    Streamlit reads ``.streamlit/config.toml`` from the working directory, not from beside the
    script: an installed app started elsewhere would lose its theme, its grouped navigation and
    show the Deploy button. Flags apply wherever it starts.
    """
    import tomllib

    if not config.is_file():
        return []
    flags = []
    for section, options in tomllib.loads(config.read_text(encoding="utf-8")).items():
        for name, value in options.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags += [f"--{section}.{name}", text]
    return flags


def run_app(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 8501,
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Workspace to open (default: ./workspace).")
    ] = None,
) -> None:
    """Start the Streamlit app on 127.0.0.1 (it has no authentication: see the README before sharing)."""
    with handled():
        entry = app_entry()
    if workspace:
        os.environ["WORKBENCH_WORKSPACE"] = workspace
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    command = [
        sys.executable, "-m", "streamlit", "run", str(entry),
        *config_flags(entry.parent / ".streamlit" / "config.toml"),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    os.execv(sys.executable, command)
