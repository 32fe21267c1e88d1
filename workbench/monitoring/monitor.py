"""A monitoring pass over production: measure, judge against the baseline window, maintain, record.

Drift shows up long after a migration: weights change behind a name, documents change without
being re-embedded, an index degrades, the queries users ask move elsewhere. :func:`monitor`
looks at what production serves (the version the ``production`` tag points at, and the column
it names) and records one row in ``wb_monitor``:

- **integrity** — missing or stale rows, a pin that no longer verifies, a mixed column;
- **eval** — the labelled eval queries served as production serves them, with per-query
  metrics, compared paired against the baseline window (a drop beyond its 95% CI);
- **index_recall** — recall@k of the column's vector index against exact search, if indexed;
- **scores** — the distribution of query–top-k cosine scores (top-1, margin, mean top-10)
  from a sample of real production queries (the opt-in query log written by serving,
  :mod:`workbench.store.query_log`), or from the eval queries when no log exists, against the
  baseline window with KS tests;
- **canary** — the behavioural fingerprint of served models (skipped until they exist here);
- **sunset** — days until the provider retires production's model, an alarm within
  ``warn_days`` naming the candidates already embedded (only when the pin has a sunset);
- **candidates** — the scheduled re-evaluation of the candidate models (every ``watch_every``,
  off by default; :mod:`workbench.monitoring.horizon`).

A pass never scans every vector: integrity counts come from scalar columns, the eval and index
checks search a few dozen queries, and the score sample is bounded. Then, if ``retire_after``
is set, it runs the scheduled maintenance (:mod:`workbench.monitoring.maintenance`), which
first finishes any retirement a crash interrupted. A retirement still unfinished after that
(maintenance off, or it failed) raises a ``maintenance`` alarm naming it.

A signal that cannot be measured (e.g. the model no longer loads) is an ``error`` and raises
the alarm like an out-of-bounds one: a monitor that cannot see is not a green light.

Example:
    >>> run = monitor(open_workspace("workspace"), "demo")  # doctest: +SKIP
    >>> run.verdict, run.alarms  # doctest: +SKIP
    ('ok', ())
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError
from workbench.monitoring.config import MonitorConfig, workspace_monitor_config
from workbench.monitoring.drift import baseline_window, judge_eval, judge_scores
from workbench.monitoring.horizon import sunset_signal, watch_due, watch_signal
from workbench.monitoring.maintenance import maintain
from workbench.monitoring.signals import (
    canary_signal,
    eval_signal,
    index_recall_signal,
    integrity_signal,
    score_features,
    serve_eval_queries,
)
from workbench.production.history import history
from workbench.production.serving import resolve_production
from workbench.retrieval.encode import embedder_for
from workbench.store.evalsets import EvalSet, list_eval_sets, load_eval_set
from workbench.store.monitor_runs import MonitorRun, Signal, append_run, list_monitor_runs
from workbench.store.production import ledger
from workbench.store.query_log import read_query_log

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.models.embedder import Embedder
    from workbench.store.workspace import VectorColumn, Workspace

__all__ = ["monitor"]

log = logging.getLogger(__name__)


def monitor(
    ws: Workspace,
    table: str | None = None,
    *,
    config: MonitorConfig | None = None,
    embedder: Embedder | None = None,
    maintenance: bool = True,
    actor: str | None = None,
    now: datetime | None = None,
) -> MonitorRun:
    """Run one monitoring pass over the production of ``table`` and record it (see module doc).

    Args:
        ws: The workspace.
        table: The corpus table (default: the only one).
        config: Thresholds (default: ``<workspace>/monitor.toml`` or the defaults).
        embedder: An already-loaded model; it must be the production column's pin.
        maintenance: Run the scheduled retirement, compaction and pruning after measuring.
        actor: Who, for the history of maintenance actions (default: the OS user).
        now: The time of the pass (default: now, UTC).

    Returns:
        The stored pass: ``verdict`` ``"alarm"`` when any signal alarmed or errored.

    Raises:
        NotFoundError: no such table, or the configured eval set does not exist.
        LifecycleError: the table has nothing in production.
        CorruptStateError: the production version names a column it lacks.
        ConfigError: a bad ``monitor.toml``.
    """
    started = time.perf_counter()
    name = table or ws.default_table()
    latest = ws.table(name)
    handle, column = resolve_production(ws, name)
    config = config or workspace_monitor_config(ws)
    eval_set = _eval_set(ws, name, config)
    now = now or datetime.now(UTC)
    runs = list_monitor_runs(ws, name)
    signals = [
        _guard(
            "integrity",
            lambda: integrity_signal(handle, latest, column, max_stale_rows=config.max_stale_rows),
        )
    ]
    signals += _model_signals(ws, handle, column, embedder, eval_set, config, runs=runs, now=now)
    signals.append(_guard("canary", lambda: canary_signal(ws, column, embedder)))
    signals += _horizon_signals(ws, latest, column, eval_set, config, now)
    window = baseline_window(runs, history(ws, name), column=column.name, size=config.baseline_passes)
    judged = [_judge(s, window, config) for s in signals]
    actions: list[str] = []
    if maintenance and config.grace is not None:
        try:
            actions = maintain(ws, name, grace=config.grace, cleanup=config.cleanup, actor=actor, now=now)
        except WorkbenchError as exc:
            judged.append(Signal("maintenance", "error", f"scheduled maintenance failed: {exc}"))
    judged += _unfinished_retirements(ws, name)
    alarms = tuple(f"{s.name}: {s.reason}" for s in judged if s.alarmed)
    run = MonitorRun(
        table=name,
        seq=0,
        at=now.isoformat(timespec="seconds"),
        production_version=handle.version,
        column=column.name,
        pin=column.ref.pin,
        verdict="alarm" if alarms else "ok",
        alarms=alarms,
        signals=tuple(judged),
        actions=tuple(actions),
        duration_s=round(time.perf_counter() - started, 3),
    )
    return append_run(ws, run)


def _horizon_signals(
    ws: Workspace,
    latest: Table,
    column: VectorColumn,
    eval_set: EvalSet | None,
    config: MonitorConfig,
    now: datetime,
) -> list[Signal]:
    """The sunset of production's model (if it has one) and a candidate watch (when due)."""
    found: list[Signal] = []
    sunset = sunset_signal(ws, latest, column, warn_days=config.warn_days, today=now.date())
    if sunset is not None:
        found.append(sunset)
    if watch_due(ws, latest.name, config, now):
        if eval_set is None:
            found.append(Signal("candidates", "skipped", "not available: no eval set for this table"))
        else:
            found.append(
                _guard("candidates", lambda: watch_signal(ws, latest.name, eval_set.name, config, now))
            )
    return found


def _unfinished_retirements(ws: Workspace, name: str) -> list[Signal]:
    """An alarm for each retirement still claimed after maintenance: it will not finish by itself."""
    return [
        Signal(
            "maintenance",
            "alarm",
            f"retiring {column} was interrupted and is not finished (its column may be dropped with "
            f"no history record); re-run `workbench retire {column}`, or a monitoring pass with "
            "maintenance, to finish it",
        )
        for column in sorted(ledger(ws.table(name)).retiring)
    ]


def _model_signals(
    ws: Workspace,
    handle: Table,
    column: VectorColumn,
    embedder: Embedder | None,
    eval_set: EvalSet | None,
    config: MonitorConfig,
    *,
    runs: list[MonitorRun],
    now: datetime,
) -> list[Signal]:
    """Eval metrics, index recall and score distribution: the signals that need queries."""
    logged = _logged_sample(ws, handle, column, config, runs=runs, now=now)
    if eval_set is None:
        missing = "not available: no eval set for this table (ingest a BEIR folder with queries and qrels)"
        signals = [Signal("eval", "skipped", missing), Signal("index_recall", "skipped", missing)]
        return [
            *signals,
            logged or Signal("scores", "skipped", "not available: no query log and no eval set"),
        ]
    try:
        model = embedder_for(column, {column.name: embedder} if embedder is not None else None)
        served = serve_eval_queries(handle, column, model, eval_set.queries, k=config.k)
    except WorkbenchError as exc:
        failed = f"could not serve the eval queries with {column.ref.pin}: {exc}"
        return [
            Signal("eval", "error", failed),
            Signal("index_recall", "error", failed),
            logged or Signal("scores", "error", failed),
        ]
    signals = [
        _guard("eval", lambda: eval_signal(served, eval_set, config.metrics)),
        _guard(
            "index_recall",
            lambda: index_recall_signal(
                handle,
                column,
                model,
                eval_set.queries,
                k=config.k,
                minimum=config.min_index_recall,
                known_exact=_known_exact(runs, handle.version),
            ),
        ),
    ]
    if logged is None:
        features = score_features(served.scores)
        n = len(features["top1"])
        reason = f"{n} eval queries (no query log with {config.min_log_queries}+ recent queries)"
        logged = _score_signal(features, "eval", reason)
    return [*signals, logged]


def _logged_sample(
    ws: Workspace,
    handle: Table,
    column: VectorColumn,
    config: MonitorConfig,
    *,
    runs: list[MonitorRun],
    now: datetime,
) -> Signal | None:
    """Scores of the queries logged since the previous pass (or within ``log_window``), sampled."""
    earliest = now - config.window
    since = max([earliest, *(datetime.fromisoformat(r.at) for r in runs[-1:])])
    for start in dict.fromkeys((since, earliest)):
        data = read_query_log(
            ws, handle.name, column=column.name, since=start, limit=config.sample_size, seed=len(runs)
        )
        if data.num_rows >= config.min_log_queries:
            features = score_features(data.column("scores").to_pylist())
            reason = f"{data.num_rows} logged production queries since {start.isoformat(timespec='seconds')}"
            return _score_signal(features, "log", reason)
    return None


def _score_signal(features: dict[str, list[float]], source: str, reason: str) -> Signal:
    values = {f: float(sum(v) / len(v)) if v else float("nan") for f, v in features.items()}
    summary = (
        f"mean top-1 {values['top1']:.3f}, margin {values['margin']:.3f}, "
        f"mean top-10 {values['mean_topk']:.3f}"
    )
    detail = {
        "source": source,
        "n": len(features["top1"]),
        "sample": {f: [round(x, 5) for x in v] for f, v in features.items()},
    }
    return Signal("scores", "baseline", f"{summary} over {reason}", values, detail)


def _known_exact(runs: list[MonitorRun], version: int) -> dict[str, list[str]] | None:
    """Exact neighbours of the eval queries from the last pass at this production version."""
    for run in reversed(runs):
        signal = run.signal("index_recall")
        if signal is not None and signal.detail.get("version") == version and signal.detail.get("exact"):
            return dict(signal.detail["exact"])
    return None


def _judge(signal: Signal, window: list[MonitorRun], config: MonitorConfig) -> Signal:
    if signal.name == "eval":
        return judge_eval(signal, window, config)
    if signal.name == "scores":
        return judge_scores(signal, window, config)
    return signal


def _eval_set(ws: Workspace, table: str, config: MonitorConfig) -> EvalSet | None:
    if config.eval_set is not None:
        return load_eval_set(ws, config.eval_set)
    names = [str(r["name"]) for r in list_eval_sets(ws, table=table)]
    if not names:
        return None
    chosen = table if table in names else names[0]
    if len(names) > 1:
        log.info(
            "table %r has eval sets %s; monitoring with %r (set eval_set in monitor.toml)",
            table,
            names,
            chosen,
        )
    return load_eval_set(ws, chosen)


def _guard(name: str, measure: Callable[[], Signal]) -> Signal:
    """A signal, or an ``error`` signal saying why it could not be measured."""
    try:
        return measure()
    except WorkbenchError as exc:
        return Signal(name, "error", f"could not be measured: {exc}")
