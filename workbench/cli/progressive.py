"""``workbench progressive curve``: transition-search quality against the new column's coverage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    workspace,
)

__all__ = ["progressive_app", "register"]

progressive_app = typer.Typer(
    help="Progressive migration: measure what a half-embedded new column is worth (transition search)."
)


def register(app: typer.Typer) -> None:
    """Add ``workbench progressive …`` to the CLI."""
    app.add_typer(progressive_app, name="progressive")


@progressive_app.command("curve")
def curve_cmd(
    column: Annotated[str, typer.Argument(help="The new column (name or model alias); every row embedded.")],
    eval_set: Annotated[
        str,
        typer.Option("--eval-set", "-e", help="A labelled eval set, or NAME@VERSION for a recorded version."),
    ],
    coverages: Annotated[str, typer.Option(help="Coverages in %, comma-separated.")] = "0,10,25,50,75,90,100",
    priority: Annotated[
        str, typer.Option(help="Orders to simulate, comma-separated: random, new-first, query-log.")
    ] = "random,new-first,query-log",
    merge: Annotated[
        str, typer.Option(help="Merge methods, comma-separated: rrf, calibrated.")
    ] = "rrf,calibrated",
    old_column: Annotated[
        str | None, typer.Option("--old-column", help="The old column (default: production's).")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the plot to this HTML file.")
    ] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """nDCG@10, recall@100 and MRR@10 of transition search at each coverage (simulated by masking)."""
    from workbench.comparison.progressive import coverage_curve
    from workbench.errors import InvalidArgumentError

    with handled():
        try:
            points = [float(c) for c in _split(coverages)]
        except ValueError:
            raise InvalidArgumentError(
                f"--coverages must be numbers in %, e.g. 0,50,100; got {coverages!r}"
            ) from None
        ws = workspace(workspace_uri, config)
        result = coverage_curve(
            ws,
            table,
            column,
            eval_set=eval_set,
            coverages=points,
            priorities=_split(priority),
            merges=_split(merge),
            old_column=old_column,
        )
        if html is not None:
            result.figure().write_html(str(html), include_plotlyjs=True)
    if as_json:
        emit_json(result.to_dict())
        return
    now = "" if result.current_coverage is None else f"; coverage now {100 * result.current_coverage:.1f}%"
    echo(
        f"transition search on {result.table!r}, eval set {result.eval_set!r} ({result.n_queries} queries, "
        f"{result.rows} rows): {result.new_column} over {result.old_column}{now}"
    )
    frame = result.frame[result.frame["metric"] == "ndcg@10"]
    for (prio, method), part in frame.groupby(["priority", "merge"], sort=False):
        cells = "  ".join(
            f"{row.coverage:g}%: {row.mean:.3f} [{row.delta:+.3f}{'*' if row.delta_low > 0 else ''}]"
            for row in part.sort_values("coverage").itertuples()
        )
        win = result.first_win(str(prio), str(method))
        first = f"beats old from {win:g}%" if win is not None else "never beats old beyond noise"
        echo(f"{prio:>9} · {method:<10} nDCG@10 {cells}  ({first})")
    echo("[Δ vs the old column alone; * = 95% interval above 0]")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
