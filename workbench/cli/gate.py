"""``workbench gate``: the promotion gate as a dry run, with exit codes a CI pipeline can branch on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli.common import (
    DEFAULT,
    ConfigOpt,
    JsonOpt,
    TableOpt,
    WorkspaceOpt,
    echo,
    emit_json,
    handled,
    table_name,
    workspace,
)

if TYPE_CHECKING:
    from workbench import GateResult

__all__ = ["GATE_HELP", "gate", "print_checks", "register"]

GATE_HELP = """The gate's verdict on promoting COLUMN with a stored comparison; nothing is written.

\b
    GO            exit 0: every check passes (hard checks, enough judged
                  queries, the primary metric shown not worse than its
                  margin, the guard rails on other metrics)
    NO-GO         exit 1: a hard check fails (wrong table, columns or data),
                  or the evidence shows the candidate worse beyond a margin
    INCONCLUSIVE  exit 3: neither can be shown; says about how many more
                  judged queries would decide
    error         exit 2

The thresholds come from <workspace>/gate.toml (or --gate FILE); see `workbench promote --help`.
"""

_MARKS = {"pass": "ok  ", "fail": "FAIL", "undecided": "??  "}


def register(app: typer.Typer) -> None:
    """Add ``gate`` to the ``workbench`` CLI."""
    app.command(name="gate", help=GATE_HELP)(gate)


def gate(
    column: Annotated[str, typer.Argument(help="The column to promote: vector column name or model alias.")],
    comparison: Annotated[
        str, typer.Option("--comparison", "-c", help="Id of the comparison (see `workbench compare`).")
    ],
    gate_file: Annotated[
        Path | None, typer.Option("--gate", help="Gate TOML (default: <workspace>/gate.toml).")
    ] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from workbench import check_gate
    from workbench.gate.config import load_gate_config

    with handled():
        ws = workspace(workspace_uri, config)
        thresholds = load_gate_config(gate_file) if gate_file is not None else None
        result = check_gate(
            ws, table_name(ws, table, column=column), column, comparison=comparison, gate=thresholds
        )
    if as_json:
        emit_json({**result.model_dump(mode="json"), "exit_code": result.exit_code})
    else:
        echo(result.summary)
        print_checks(result)
    raise typer.Exit(result.exit_code)


def print_checks(result: GateResult) -> None:
    """Every check on its own line (``ok``, ``FAIL`` or ``??`` for undecided), then the notes."""
    for check in result.checks:
        echo(f"  {_MARKS[check.outcome]} {check.detail}")
    for note in result.notes:
        echo(f"       {note}")
