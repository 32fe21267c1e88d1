"""``workbench runbook``: write the migration runbook for moving production to a candidate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli.common import DEFAULT, ConfigOpt, WorkspaceOpt, echo, handled, workspace

if TYPE_CHECKING:
    from workbench import MigrationPlan, Workspace

__all__ = ["register", "runbook_cmd"]


def register(app: typer.Typer) -> None:
    """Add ``runbook`` to the ``workbench`` CLI."""
    app.command("runbook")(runbook_cmd)


def runbook_cmd(
    candidate: Annotated[str, typer.Argument(help="The candidate: vector column name or model alias.")],
    comparison: Annotated[
        str,
        typer.Option("--comparison", "-c", help="Id of the comparison of the candidate against production."),
    ],
    format: Annotated[str, typer.Option("--format", "-f", help="md or html.")] = "md",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file (default: runbook-<comparison>.<format>).")
    ] = None,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate/--no-estimate", help="Time a sample of the corpus for the cost and time estimate."
        ),
    ] = True,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
) -> None:
    """Write the migration runbook: pins and sunset dates, cost, the commands in order, rollback,
    retirement date, gate verdict and evidence, monitoring, sign-off. Changes nothing."""
    from workbench import load_comparison
    from workbench.comparison.report import write_output
    from workbench.errors import InvalidArgumentError
    from workbench.monitoring.config import workspace_monitor_config
    from workbench.production.retire import parse_duration
    from workbench.production.runbook import build_runbook

    with handled():
        if format not in ("md", "html"):
            raise InvalidArgumentError(f"--format {format!r} is not one of md, html")
        path = out or Path(f"runbook-{comparison}.{format}")
        if path.is_dir():
            raise InvalidArgumentError(
                f"--out {str(path)!r} is a folder; give a file name such as runbook.{format}"
            )
        ws = workspace(workspace_uri, config)
        cmp = load_comparison(ws, comparison)
        monitoring = workspace_monitor_config(ws)
        retire_after = parse_duration(monitoring.retire_after) if monitoring.retire_after else None
        plan = _plan(ws, cmp.manifest.table, candidate) if estimate else None
        book = build_runbook(
            ws,
            candidate,
            comparison=cmp,
            plan=plan,
            monitoring=monitoring.model_dump(),
            retire_after=retire_after,
        )
        write_output(path, book.render(format))  # type: ignore[arg-type]  # checked above
    echo(f"wrote {path}")


def _plan(ws: Workspace, table: str, candidate: str) -> MigrationPlan:
    """Embedding the table with the candidate: time a small sample, price from workbench.toml."""
    from workbench import plan_embed

    column = ws.resolve_column(ws.table(table), candidate)
    alias = next((a for a, r in ws.config.all_models().items() if r.column == column.name), None)
    price = ws.config.price(alias) if alias else None
    return plan_embed(ws, table, column.ref, sample=32, price_per_million=price)
