"""Production commands: promote, rollback, refresh, history, search, check, retire (thin over the library)."""

from __future__ import annotations

from collections.abc import Callable
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
    terminal_text,
    workspace,
)

if TYPE_CHECKING:
    from workbench import PromotionRecord

__all__ = [
    "PROMOTE_HELP",
    "ActorOpt",
    "ReasonOpt",
    "check",
    "history",
    "promote",
    "refresh",
    "register",
    "retire",
    "rollback",
    "search",
]

ActorOpt = Annotated[
    str | None,
    typer.Option("--actor", envvar="WORKBENCH_ACTOR", help="Who, for the history (default: the OS user)."),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why, recorded in the history.")]

PROMOTE_HELP = """Make a vector column production (metadata + tags only: O(1), no data copied).

Needs a comparison of COLUMN (candidate) against the current production column (baseline) made
on the current data, on which the gate says GO (dry run: `workbench gate COLUMN -c ID`). By
default: the primary metric nDCG@10 not worse by more than 0.01 (the low end of its 95% interval
>= -0.01, a non-inferiority test), recall@100 delta >= -0.01, at least 30 judged queries. Set
your own in <workspace>/gate.toml (or --gate FILE):

\b
    primary = "ndcg@10"
    superiority = false
    min_queries = 50
    [min_ci_low]
    "ndcg@10" = -0.005
    [min_delta]
    "recall@100" = -0.005

--force --reason TEXT overrides NO-GO, INCONCLUSIVE or a missing comparison; the verdict and the
reason are recorded in the history.

--initial records the first production of a table that has none (no comparison needed): the
column search serves today, usually the old model's. Then compare the new model against it and
promote the new one through the gate.
"""


def register(app: typer.Typer) -> None:
    """Add the production commands to the ``workbench`` CLI."""
    app.command(help=PROMOTE_HELP)(promote)
    for command in (rollback, refresh, history, search, check, retire):
        app.command()(command)


def promote(
    column: Annotated[str, typer.Argument(help="Vector column name or model alias.")],
    comparison: Annotated[
        str | None, typer.Option("--comparison", "-c", help="Id of the comparison (see `workbench compare`).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Override a failing or missing gate (needs --reason).")] = False,
    reason: ReasonOpt = "",
    initial: Annotated[bool, typer.Option(help="First production of a table that has none.")] = False,
    gate: Annotated[Path | None, typer.Option(help="Gate TOML (default: <workspace>/gate.toml).")] = None,
    actor: ActorOpt = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from workbench import promote as run_promote
    from workbench.gate.config import load_gate_config

    with handled():
        ws = workspace(workspace_uri, config)
        record = run_promote(
            ws,
            table_name(ws, table, column=column),
            column,
            comparison=comparison,
            gate=load_gate_config(gate) if gate is not None else None,
            force=force,
            reason=reason,
            initial=initial,
            actor=actor,
        )
    _print_record(record, as_json=as_json)
    if record.gate is not None and not as_json:
        from workbench.cli.gate import print_checks

        echo(f"gate: {record.gate.summary}")
        print_checks(record.gate)


def rollback(
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move production back to the previous production version, instantly."""
    from workbench import rollback as run_rollback

    _move_production(run_rollback, workspace_uri, config, table, actor=actor, reason=reason, as_json=as_json)


def refresh(
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Serve documents ingested since the last promotion: production → latest version, same column."""
    from workbench import refresh as run_refresh

    _move_production(run_refresh, workspace_uri, config, table, actor=actor, reason=reason, as_json=as_json)


def _move_production(
    move: Callable[..., PromotionRecord],
    workspace_uri: str | None,
    config: str | None,
    table: str | None,
    *,
    actor: str | None,
    reason: str,
    as_json: bool,
) -> None:
    """Run ``move`` (rollback or refresh: ``(ws, table, *, actor, reason)``) and print its record."""
    with handled():
        ws = workspace(workspace_uri, config)
        record = move(ws, table_name(ws, table), actor=actor, reason=reason)
    _print_record(record, as_json=as_json)


def _print_record(record: PromotionRecord, *, as_json: bool) -> None:
    emit_json(record.to_dict()) if as_json else echo(record.message)


def history(
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every promotion, rollback, refresh and retirement: who, when, from → to, evidence, reason.

    Each line starts with its table and the move's number in that table (``demo #3``); the
    live rollout steps (``workbench rollout``) are listed in time order among them.
    """
    from workbench import history as read_history

    with handled():
        ws = workspace(workspace_uri, config)
        records = read_history(ws, table)
        if table is not None and not records:
            ws.table(table)  # a table that is not there: refused with the tables there are
    if as_json:
        emit_json([r.to_dict() for r in records])
        return
    from workbench.store.rollouts import rollout_steps

    tables = [table] if table is not None else sorted({r.table for r in records} | set(ws.table_names()))
    steps = [step for name in tables for step in rollout_steps(ws, name)]
    if not records and not steps:
        echo("no promotions recorded yet")
    lines = [  # numbered per table: each table has its own sequence of moves (and of rollout steps)
        (record.at, f"{record.table} #{record.seq} {record.at} {record.actor}: {record.message}")
        for record in records
    ]
    for step in steps:
        at = step.at.isoformat()
        lines.append((at, f"{step.table} rollout {at} {step.message}"))
    for _, line in sorted(lines, key=lambda pair: pair[0]):
        echo(terminal_text(line))


def search(
    query: Annotated[str, typer.Argument(help="The text to search for.")],
    k: Annotated[int, typer.Option("--k", "-k", help="How many documents.")] = 10,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    log_query: Annotated[
        str | None,
        typer.Option(
            "--log-query",
            help="Log the query and its scores for `workbench monitor`; text kept as: plain, hashed, none.",
        ),
    ] = None,
    adapter: Annotated[
        str | None,
        typer.Option(
            "--adapter",
            help="Encode the query with this Drift-Adapter's new model and map it into production's "
            "column (refused unless both pins match; see `workbench adapter list`).",
        ),
    ] = None,
    transition: Annotated[
        str | None,
        typer.Option(
            "--transition",
            help="Transition search: merge this (progressive) column, over the rows it covers, with "
            "production's column over the others; every hit names the model that ranked it.",
        ),
    ] = None,
    merge: Annotated[str, typer.Option(help="--transition: merge by rrf or calibrated.")] = "rrf",
    old_scope: Annotated[
        str, typer.Option(help="--transition: search the old column over uncovered rows or all rows.")
    ] = "uncovered",
    as_json: JsonOpt = False,
) -> None:
    """Search production: the active column only, queries encoded by its own verified model."""
    from workbench import search as run_search
    from workbench.store.query_log import QueryLog

    if transition is not None:
        _transition_search(query, k, workspace_uri, config, table, transition, merge, old_scope, as_json)
        return
    with handled():
        ws = workspace(workspace_uri, config)
        query_log = QueryLog(ws, text=log_query) if log_query is not None else None  # type: ignore[arg-type]
        name = table_name(ws, table)
        result = run_search(ws, query, table=name, k=k, query_log=query_log, adapter=adapter)
    if as_json:
        emit_json(result.to_dict())
        return
    echo(
        f"production v{result.version} of {result.table!r}: {result.column} ({result.model}), "
        f"searched {result.index}"
    )
    for hit in result.hits:
        title, snippet = " ".join(hit.title.split()), terminal_text(" ".join(hit.text.split()))[:100]
        echo(f"{hit.rank:>3}. {hit.score:.3f}  {hit.id}  {title}\n       {snippet}")


def _transition_search(
    query: str,
    k: int,
    workspace_uri: str | None,
    config: str | None,
    table: str | None,
    new_column: str,
    merge: str,
    old_scope: str,
    as_json: bool,
) -> None:
    from workbench.production.serving import check_query
    from workbench.production.transition import TransitionIndex

    with handled():
        check_query(query, k)
        ws = workspace(workspace_uri, config)
        index = TransitionIndex.open(ws, table, new_column, merge=merge, old_scope=old_scope)
        result = index.search(query, k=k)
    if as_json:
        emit_json(result.to_dict())
        return
    echo(
        f"transition v{result.version} of {result.table!r}: {result.column} ({100 * result.coverage:.1f}% "
        f"covered) + {result.old_column}, merged by {result.merge}, searched {result.index}"
    )
    for hit in result.hits:
        title, snippet = " ".join(hit.title.split()), terminal_text(" ".join(hit.text.split()))[:100]
        which = "new" if hit.column == result.column else "old"
        echo(
            f"{hit.rank:>3}. {hit.score:.4f} [{which} {hit.cosine:.3f}]  {hit.id}  {title}\n       {snippet}"
        )


def check(
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    tables: Annotated[
        list[str] | None,
        typer.Option("--table", "-t", help="Only this corpus table (repeatable; default: every table)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start-up validation of a deployment, every table; exit 1 on any problem (2 on a usage error)."""
    from workbench.production.serving import check_tables

    with handled():
        ws = workspace(workspace_uri, config)
        reports = check_tables(ws, tables)
    ok = bool(reports) and all(r.ok for r in reports)
    if as_json:
        emit_json({"ok": ok, "tables": [r.to_dict() for r in reports]})
    elif not reports:
        echo(f"FAILED: workspace {ws.uri!r} has no corpus table", fg=typer.colors.RED, err=True)
    for report in [] if as_json else reports:
        where = f"v{report.version} {report.column} ({report.model})" if report.version is not None else "-"
        echo(f"{'ok' if report.ok else 'FAILED'}: production of {report.table!r}: {where}")
        for problem in report.problems:
            echo(f"  problem: {problem}", fg=typer.colors.RED, err=True)
        if report.canaries.startswith("remembered"):
            echo(f"  canaries: {report.canaries}")
        for note in report.notes:
            echo(f"  note: {note}")
    if not ok:
        raise typer.Exit(1)


def retire(
    column: Annotated[str, typer.Argument(help="Vector column name or model alias.")],
    grace: Annotated[str, typer.Option(help="Minimum time out of production: 30m, 12h, 7d, 2w, 0.")] = "7d",
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Drop an old vector column after its grace period; prune untagged versions older than it."""
    from dataclasses import asdict

    from workbench import retire as run_retire
    from workbench.production.retire import parse_duration

    with handled():
        ws = workspace(workspace_uri, config)
        result = run_retire(
            ws,
            table_name(ws, table, column=column),
            column,
            grace=parse_duration(grace),
            actor=actor,
            reason=reason,
        )
    if as_json:
        emit_json({**asdict(result), "record": result.record.to_dict()})
    else:
        echo(result.message)
