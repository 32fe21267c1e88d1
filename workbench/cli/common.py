"""Shared pieces of the CLI: options, error handling, progress bars, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.errors import WorkbenchError
from workbench.progress import ProgressFn
from workbench.store.contract import DEFAULT_WORKSPACE

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = [
    "DEFAULT",
    "ConfigOpt",
    "GlobalConfigOpt",
    "GlobalWorkspaceOpt",
    "JsonOpt",
    "TableOpt",
    "WorkspaceOpt",
    "emit_json",
    "handled",
    "progress_bar",
    "set_defaults",
    "table_name",
    "workspace",
]

WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace: a folder or any LanceDB URI (default: as given before the command, "
        f"else $WORKBENCH_WORKSPACE, else ./{DEFAULT_WORKSPACE}).",
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", help="Config TOML (default: <workspace>/workbench.toml or $WORKBENCH_CONFIG)."),
]
GlobalWorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="WORKBENCH_WORKSPACE",
        help=f"Workspace: a folder or any LanceDB URI (default: ./{DEFAULT_WORKSPACE}).",
    ),
]
GlobalConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config", envvar="WORKBENCH_CONFIG", help="Config TOML (default: <workspace>/workbench.toml)."
    ),
]
TableOpt = Annotated[str | None, typer.Option("--table", "-t", help="Corpus table (default: the only one).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]

DEFAULT: str | None = None
"""The default of every command's ``--workspace``: resolved by :func:`workspace`."""


@dataclass
class _Defaults:
    workspace: str | None = None
    config: str | None = None


_defaults = _Defaults()


def set_defaults(*, workspace: str | None, config: str | None) -> None:
    """Record the options given before the command (or by environment) for this invocation."""
    _defaults.workspace = workspace
    _defaults.config = config


@contextmanager
def handled() -> Iterator[None]:
    """Turn a ``WorkbenchError`` into one line on stderr and exit code 2."""
    try:
        yield
    except WorkbenchError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def workspace(uri: str | None, config: str | None) -> Workspace:
    """Open the workspace: the command's option, else the global one, else the default folder."""
    from workbench.store.workspace import open_workspace

    return open_workspace(
        uri or _defaults.workspace or DEFAULT_WORKSPACE, config_path=config or _defaults.config
    )


def table_name(ws: Workspace, table: str | None) -> str:
    return table or ws.default_table()


@contextmanager
def progress_bar(description: str, *, unit: str = "rows") -> Iterator[ProgressFn]:
    """A tqdm bar (rows/s, ETA) on stderr, as a ``ProgressFn``."""
    from tqdm import tqdm

    bars: list[tqdm] = []  # created on the first update, so a step with no work prints nothing

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(desc=description, unit=unit, total=total, file=sys.stderr, dynamic_ncols=True))
        bar = bars[0]
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
