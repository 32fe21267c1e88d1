"""The typer application: global options, explicit registration of every command group, ``main``."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperGroup

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
    progressive,
    runbook,
    serve,
    serve_app,
)
from workbench.cli.common import GlobalConfigOpt, GlobalWorkspaceOpt, echo

__all__ = ["app", "main"]

# click's exceptions as typer raises them (typer >= 0.2x vendors click as typer._click)
_click_errors = importlib.import_module(typer.BadParameter.__module__)
_HELP_ON_NO_ARGS: Any = getattr(_click_errors, "NoArgsIsHelpError", ())  # click >= 8.2


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """A usage error (missing argument, unknown option or command, bad value) as one line, exit 2.

    Click's own report is a usage line, a hint and a boxed message; ours matches every other
    refusal (``error: …`` on stderr) and names the help to read. Bare ``workbench`` still
    prints the help.
    """
    try:
        yield
    except _HELP_ON_NO_ARGS:
        raise
    except _click_errors.ClickException as exc:
        message = " ".join(exc.format_message().split()).rstrip(".")
        message = message[:1].lower() + message[1:]
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            message += f" (see `{ctx.command_path} --help`)"
        echo(f"error: {message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(exc.exit_code) from None


class _Group(TyperGroup):
    """The root command group, reporting usage errors in one line (see :func:`_one_line_errors`)."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with _one_line_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _one_line_errors():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Group,
    name="workbench",
    help="Embedding migration workbench: pin models, embed side by side, compare, promote, roll back.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(workspace: GlobalWorkspaceOpt = None, config: GlobalConfigOpt = None) -> None:
    """Embedding migration workbench: pin models, embed side by side, compare, promote, roll back.

    --workspace and --config may be given here (before the command) or after the command.
    """
    common.set_defaults(workspace=workspace, config=config)


for _group in (
    data,
    models,
    compare,
    decide,
    gate,
    index,
    judge,
    production,
    progressive,
    runbook,
    monitor,
    serve,
    serve_app,
):
    _group.register(app)


def main() -> None:
    """Console entry point (``workbench``): offline model loading, quiet progress from libraries."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars
    app()
