"""``workbench serve`` (the HTTP search service) and ``workbench rollout`` (shadow, canary, abort, report)."""

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
    table_name,
    terminal_text,
    workspace,
)
from workbench.cli.production import ActorOpt, ReasonOpt

__all__ = ["register", "serve"]

rollout_app = typer.Typer(
    help="Live rollout of a candidate column: shadow queries, a canary share, abort, the live evidence.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``rollout`` group to the ``workbench`` CLI."""
    app.command()(serve)
    app.add_typer(rollout_app, name="rollout")


def serve(
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (each loads the models).")
    ] = 1,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env",
            help="Name of an environment variable holding a bearer token every search must send "
            "(the token is never logged). Without it the service is open: bind to 127.0.0.1.",
        ),
    ] = None,
    interval: Annotated[
        float, typer.Option(min=0.05, help="Seconds between checks of the production tag and rollout.")
    ] = 2.0,
    max_k: Annotated[int, typer.Option(min=1, help="Largest k a request may ask for.")] = 100,
    query_log: Annotated[
        float, typer.Option("--query-log", min=0.0, max=1.0, help="Share of queries logged for monitoring.")
    ] = 0.0,
    access_log: Annotated[
        bool, typer.Option(help="Log one line per request (uvicorn's access log).")
    ] = False,
    shadow_text: Annotated[
        str,
        typer.Option(help="Query text in the shadow log: hashed, plain (needed to judge them) or none."),
    ] = "hashed",
) -> None:
    """Serve production over HTTP: /search, /search/batch, /ready, /production, /metrics (docs at /docs).

    Every answer comes from one column with its own pinned model and names it. The service
    follows `workbench promote`, `rollback` and `rollout` without a restart (every --interval
    seconds, or at once on SIGHUP): a new production is validated off the request path and
    swapped in; one that fails validation is not served (see /ready). Needs the [serve] extra.
    """
    with handled():
        from workbench.service.settings import ServiceSettings

        _require_extra()
        ws = workspace(workspace_uri, config)
        settings = ServiceSettings(
            workspace=str(ws.uri),
            table=table_name(ws, table),
            host=host,
            port=port,
            workers=workers,
            token_env=token_env,
            follow_interval=interval,
            max_k=max_k,
            query_log_rate=query_log,
            shadow_text=shadow_text,
            access_log=access_log,
        )
        settings.token()
    from workbench.service.run import serve as run_service

    with handled():
        run_service(settings)


@rollout_app.command("shadow")
def shadow(
    candidate: Annotated[str, typer.Argument(help="Vector column name or model alias.")],
    sample: Annotated[
        float, typer.Option(help="Share of live queries also run against it, in (0, 1].")
    ] = 0.2,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
) -> None:
    """Run a sample of live queries against CANDIDATE in the shadow; production still answers them all."""
    from workbench import start_shadow

    with handled():
        ws = workspace(workspace_uri, config)
        step = start_shadow(ws, table_name(ws, table), candidate, sample=sample, reason=reason, actor=actor)
    echo(terminal_text(step.message))
    echo("`workbench serve` follows it within its interval; see `workbench rollout report` for the evidence")


@rollout_app.command("canary")
def canary(
    candidate: Annotated[str, typer.Argument(help="Vector column name or model alias.")],
    percent: Annotated[float, typer.Option(help="Share of traffic (0-100) the candidate answers.")],
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
) -> None:
    """Serve --percent of traffic from CANDIDATE, sticky by request key (X-User-Id); run again to raise it."""
    from workbench import start_canary

    with handled():
        ws = workspace(workspace_uri, config)
        step = start_canary(ws, table_name(ws, table), candidate, percent=percent, reason=reason, actor=actor)
    echo(terminal_text(step.message))
    echo(
        "`workbench rollout abort` sends everything back to production; `workbench promote` ends the rollout"
    )


@rollout_app.command("progressive")
def progressive(
    new: Annotated[str, typer.Argument(help="The new (usually progressive) column: name or model alias.")],
    merge: Annotated[str, typer.Option(help="Merge both models' results: rrf or calibrated.")] = "rrf",
    old_scope: Annotated[
        str, typer.Option(help="Search the old column over the rows NEW does not cover (uncovered) or all.")
    ] = "uncovered",
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
) -> None:
    """Serve every query by transition search while NEW fills: both models merged; hits name their model."""
    from workbench.production.rollout import start_progressive

    with handled():
        ws = workspace(workspace_uri, config)
        step = start_progressive(
            ws, table_name(ws, table), new, merge=merge, old_scope=old_scope, reason=reason, actor=actor
        )
    echo(terminal_text(step.message))
    echo("`workbench serve` re-opens the latest version as the column fills; promote NEW once it is whole")


@rollout_app.command("abort")
def abort(
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
) -> None:
    """Return all traffic to production at once (the service follows within its interval)."""
    from workbench import abort_rollout

    with handled():
        ws = workspace(workspace_uri, config)
        step = abort_rollout(ws, table_name(ws, table), reason=reason, actor=actor)
    echo("no rollout is in force: nothing to abort" if step is None else terminal_text(step.message))


@rollout_app.command("status")
def status(
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The rollout in force and every rollout step of the table."""
    from workbench.production.rollout import current_rollout
    from workbench.store.rollouts import rollout_steps

    with handled():
        ws = workspace(workspace_uri, config)
        name = table_name(ws, table)
        steps = rollout_steps(ws, name)
        active = current_rollout(ws, name)
    if as_json:
        emit_json(
            {
                "table": name,
                "active": active.to_dict() if active else None,
                "steps": [s.to_dict() for s in steps],
            }
        )
        return
    echo(f"in force: {terminal_text(active.message) if active else 'none (production serves all traffic)'}")
    for step in steps:
        echo(f"  {step.at:%Y-%m-%d %H:%M} {terminal_text(step.message)}")


@rollout_app.command("report")
def report(
    candidate: Annotated[
        str | None, typer.Argument(help="Candidate column (default: the latest shadowed).")
    ] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
    disagreeing: Annotated[
        int, typer.Option(min=0, help="Also list this many live queries where the models disagree most.")
    ] = 0,
    queries_out: Annotated[
        Path | None,
        typer.Option(
            "--queries-out",
            help="Write the most-disagreeing live queries as queries.jsonl, to add to an eval set and judge.",
        ),
    ] = None,
) -> None:
    """Label-free live evidence from the shadow: agreement with production (95% CIs), scores, latency."""
    from workbench import shadow_report
    from workbench.production.shadow import disagreeing_queries

    with handled():
        ws = workspace(workspace_uri, config)
        name = table_name(ws, table)
        if candidate is not None:
            candidate = ws.resolve_column(ws.table(name), candidate).name
        result = shadow_report(ws, name, candidate=candidate)
        worst = disagreeing_queries(
            ws, name, candidate=result.candidate, n=max(disagreeing, 50 if queries_out else 0)
        )
        if queries_out is not None:
            _write_queries(queries_out, worst)
    if as_json:
        emit_json({**result.to_dict(), "disagreeing": worst[:disagreeing]})
        return
    for line in result.lines():
        echo(terminal_text(line))
    if disagreeing:
        if not worst:
            echo("no query texts in the shadow log (serve with --shadow-text plain to keep them)")
        for query in worst[:disagreeing]:
            echo(f"  {terminal_text(query)}")
    if queries_out is not None:
        echo(f"wrote {len(worst)} queries to {queries_out}")


def _write_queries(path: Path, queries: list[str]) -> None:
    import hashlib
    import json

    lines = [
        json.dumps({"_id": "live-" + hashlib.sha256(q.encode()).hexdigest()[:12], "text": q}) for q in queries
    ]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tmp.replace(path)


def _require_extra() -> None:
    from workbench.errors import InvalidArgumentError

    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise InvalidArgumentError(
            f"`workbench serve` needs the serve extra ({exc.name} is missing): "
            'pip install "embedding-workbench[serve]"'
        ) from None
