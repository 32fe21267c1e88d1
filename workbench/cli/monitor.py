"""``workbench monitor``: one monitoring pass over production (or one every ``--every``), for cron and CI.

Exit codes: 0 no alarm, 1 alarm, 2 error (bad input, nothing in production, ...).
"""

from __future__ import annotations

import time
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
    from workbench import MonitorRun

__all__ = ["MONITOR_HELP", "monitor", "register"]

MONITOR_HELP = """Check production: eval metrics, score drift, integrity, index recall; retire on schedule.

One pass measures what production serves and stores it in the workspace table wb_monitor;
drift is judged against the baseline window (the first passes after the last promotion).
Exit 0: no alarm; 1: alarm (the reasons are printed); 2: error.

Thresholds and the retirement schedule live in <workspace>/monitor.toml (or --monitor-config):

\b
    metrics = ["ndcg@10", "recall@10"]
    baseline_passes = 3
    min_metric_drop = 0.02      # and the 95% CI of the drop excludes 0
    score_alpha = 0.001         # KS p-value, Bonferroni over 3 features
    score_min_effect = 0.2      # KS statistic
    max_stale_rows = 0
    min_index_recall = 0.9
    retire_after = "7d"         # "" turns scheduled retirement off
    cleanup = true
    warn_days = 90              # alarm: production's model sunsets in 90 days
    watch_every = "90d"         # re-evaluate candidates ("": off, default)
    watch_candidates = ["minilm-l6"]
    watch_margin = 0.01         # alarm: a candidate better by more, CI > 0

Scores come from the query log that serving writes when asked (ProductionIndex.open(...,
query_log=QueryLog(ws)) or `workbench search --log-query hashed`), else from the eval queries.
--every 1h repeats the pass in the foreground; for cron, systemd or Kubernetes see the README.
"""


def register(app: typer.Typer) -> None:
    """Add ``workbench monitor`` to the CLI."""
    app.command(help=MONITOR_HELP)(monitor)


def monitor(
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    monitor_config: Annotated[
        Path | None, typer.Option(help="Monitor TOML (default: <workspace>/monitor.toml).")
    ] = None,
    every: Annotated[
        str | None, typer.Option(help="Repeat a pass at this interval (45s, 30m, 1h, 1d) until stopped.")
    ] = None,
    passes: Annotated[
        int | None, typer.Option(min=1, help="With --every: stop after this many passes.")
    ] = None,
    no_maintenance: Annotated[
        bool, typer.Option("--no-maintenance", help="Measure only: no scheduled retirement or cleanup.")
    ] = False,
    actor: Annotated[
        str | None, typer.Option(envvar="WORKBENCH_ACTOR", help="Who, for the history of maintenance.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    from workbench import monitor as run_monitor
    from workbench.monitoring.config import load_monitor_config
    from workbench.production.retire import parse_duration

    with handled():
        interval = parse_duration(every).total_seconds() if every is not None else None
        if interval is not None and interval <= 0:
            from workbench.errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"--every must be a positive interval such as 30m or 1h, got {every!r}"
            )
        ws = workspace(workspace_uri, config)
        name = table_name(ws, table)
        settings = load_monitor_config(monitor_config) if monitor_config is not None else None
    done, code = 0, 0
    while True:
        with handled():
            run = run_monitor(ws, name, config=settings, maintenance=not no_maintenance, actor=actor)
        _show(run, as_json=as_json)
        code = 1 if run.verdict == "alarm" else 0
        done += 1
        if interval is None or (passes is not None and done >= passes):
            break
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            break
    raise typer.Exit(code)


def _show(run: MonitorRun, *, as_json: bool) -> None:
    if as_json:
        emit_json(run.to_dict())
        return
    head = f"{run.verdict.upper()}: pass {run.seq} of {run.table!r} at {run.at}"
    echo(f"{head}: production v{run.production_version} {run.column} ({run.duration_s:.1f}s)")
    for signal in run.signals:
        mark = {"ok": "ok", "alarm": "ALARM", "error": "ERROR", "baseline": "base", "skipped": "skip"}
        echo(f"  {mark[signal.status]:<5} {signal.name}: {signal.reason}")
    for action in run.actions:
        echo(f"  done  {action}")
    for alarm in run.alarms:
        echo(f"alarm: {alarm}", fg=typer.colors.RED, err=True)
