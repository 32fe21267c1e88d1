"""Shared pieces of the CLI: options, error handling, progress bars, JSON output."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.progress import ProgressFn
from workbench.store.failures import explain
from workbench.store.workspace import DEFAULT_WORKSPACE, Workspace, open_workspace

WorkspaceOpt = Annotated[
    str,
    typer.Option(
        "--workspace",
        "-w",
        envvar="WORKBENCH_WORKSPACE",
        help="Workspace: a folder or any LanceDB URI.",
        show_default=True,
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        envvar="WORKBENCH_CONFIG",
        help="Config TOML (default: <workspace>/workbench.toml).",
    ),
]
TableOpt = Annotated[str | None, typer.Option("--table", "-t", help="Corpus table (default: the only one).")]
IngestTableOpt = Annotated[
    str | None, typer.Option("--table", "-t", help="Table to write (default: the folder or file name).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]

DEFAULT = DEFAULT_WORKSPACE


_CREATED: list[Path] = []  # workspace folders this command created; removed if it fails


@contextmanager
def handled() -> Iterator[None]:
    """Turn every expected failure into one line on stderr and exit code 2, writing nothing.

    A ``WorkbenchError`` is printed as it is; a storage or system error (a commit conflict, a
    read-only or full disk, damaged files, ...) is first named by
    :func:`workbench.store.failures.explain`. A workspace folder this command created is
    removed again. Anything else is a bug and keeps its traceback.
    """
    mark = len(_CREATED)
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        error = explain(exc)
        if error is None:
            raise
        _remove_created(mark)
        message = " ".join(str(error).split())
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    finally:
        del _CREATED[mark:]


def _remove_created(mark: int) -> None:
    """Remove the workspace folders created since ``mark`` (by the command that just failed)."""
    for folder in _CREATED[mark:]:
        shutil.rmtree(folder, ignore_errors=True)


def workspace(uri: str, config: str | None, *, create: bool = False) -> Workspace:
    """Open the workspace; only commands that write a new one (``create``) may make its folder."""
    folder = Path(uri)
    if create and "://" not in uri and not folder.exists():
        _CREATED.append(folder.resolve())
    return open_workspace(uri, config_path=config, create=create)


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
