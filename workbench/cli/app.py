"""The typer application: global options, explicit registration of every command group, ``main``."""

from __future__ import annotations

import os

import typer

from workbench.cli import (
    common,
    compare,
    data,
    decide,
    gate,
    index,
    judge,
    models,
    monitor,
    production,
    serve_app,
)
from workbench.cli.common import GlobalConfigOpt, GlobalWorkspaceOpt

__all__ = ["app", "main"]

app = typer.Typer(
    name="workbench",
    help="Embedding migration workbench: pin models, embed side by side, compare, promote, roll back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(workspace: GlobalWorkspaceOpt = None, config: GlobalConfigOpt = None) -> None:
    """Embedding migration workbench: pin models, embed side by side, compare, promote, roll back.

    --workspace and --config may be given here (before the command) or after the command.
    """
    common.set_defaults(workspace=workspace, config=config)


for _group in (data, models, compare, decide, gate, index, judge, production, monitor, serve_app):
    _group.register(app)


def main() -> None:
    """Console entry point (``workbench``): offline model loading, quiet progress from libraries."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars
    app()
