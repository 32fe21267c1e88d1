"""The signals about production's future, not its present: its model's sunset, and better candidates.

- :func:`sunset_signal`: the provider retires production's model on its pinned ``sunset`` date
  (``workbench models sunset ALIAS DATE``). Within ``warn_days`` of it (90 by default, as long as
  a provider's usual notice) the pass alarms, naming the candidates already embedded in the
  table with their last stored comparison against production, so the team starts from evidence
  instead of scrambling. No signal when the model has no sunset.
- :func:`watch_signal`: the scheduled re-evaluation of the candidates
  (:func:`workbench.decide.watch.watch_candidates`), run when ``watch_every`` has passed since
  the last one; it alarms when a candidate beats production by more than ``watch_margin``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING

from workbench.decide.watch import watch_candidates
from workbench.production.retire import parse_duration
from workbench.store.candidate_watch import list_watches
from workbench.store.comparisons import list_comparisons
from workbench.store.monitor_runs import Signal

if TYPE_CHECKING:
    import pandas as pd
    from lancedb.table import Table

    from workbench.monitoring.config import MonitorConfig
    from workbench.store.workspace import VectorColumn, Workspace

__all__ = ["embedded_candidates", "sunset_signal", "watch_due", "watch_signal"]

log = logging.getLogger(__name__)


def sunset_signal(
    ws: Workspace, latest: Table, column: VectorColumn, *, warn_days: int, today: date
) -> Signal | None:
    """Days until production's model sunsets; an alarm within ``warn_days`` (None: no sunset)."""
    pins = [(a, r) for a, r in sorted(ws.config.all_models().items()) if r.column == column.name and r.sunset]
    if not pins:
        return None
    alias, ref = min(pins, key=lambda p: p[1].sunset)  # type: ignore[arg-type, return-value]
    days = ref.days_left(today)
    assert days is not None and ref.sunset is not None
    note = f" ({ref.sunset_note})" if ref.sunset_note else ""
    when = f"{alias} ({ref.pin}) sunsets on {ref.sunset.isoformat()}{note}"
    values = {"days_left": float(days), "warn_days": float(warn_days)}
    if days > warn_days:
        return Signal("sunset", "ok", f"{when}: {days} days left (warning from {warn_days})", values)
    left = f"{days} days left" if days >= 0 else f"{-days} days PAST it"
    candidates = embedded_candidates(ws, latest, column)
    plan = (
        "; candidates already embedded: " + "; ".join(candidates)
        if candidates
        else "; no candidate is embedded yet: pin one (`workbench models add`) and embed it now"
    )
    detail = {"sunset": ref.sunset.isoformat(), "candidates": candidates}
    return Signal("sunset", "alarm", f"{when}: {left}, within {warn_days}{plan}", values, detail)


def embedded_candidates(ws: Workspace, latest: Table, column: VectorColumn) -> list[str]:
    """Every other column of the table, by alias, with its last comparison against ``column``."""
    aliases = {ref.column: alias for alias, ref in sorted(ws.config.all_models().items())}
    comparisons = list_comparisons(ws, table=latest.name)
    lines = []
    for other in ws.vector_columns(latest):
        if other.name == column.name:
            continue
        label = aliases.get(other.name, other.name)
        lines.append(f"{label} ({other.name}): {_last_comparison(comparisons, column, other, aliases)}")
    return lines


def _last_comparison(
    comparisons: pd.DataFrame, column: VectorColumn, other: VectorColumn, aliases: dict[str, str]
) -> str:
    names = {column.name, aliases.get(column.name, column.name)}
    others = {other.name, aliases.get(other.name, other.name)}
    mask = comparisons["baseline"].isin(names) & comparisons["candidate"].isin(others)
    found = comparisons[mask]
    if found.empty:
        return "not compared yet (`workbench compare`)"
    row = found.iloc[-1]
    return (
        f"last comparison {row['id']} ({str(row['created_at'])[:10]}): {row['headline_metric']} "
        f"{row['delta']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
    )


def watch_due(ws: Workspace, table: str, config: MonitorConfig, now: datetime) -> bool:
    """True when candidate watching is on and ``watch_every`` has passed since the last watch."""
    if not config.watch_every.strip():
        return False
    done = list_watches(ws, table)
    if not done:
        return True
    return now - datetime.fromisoformat(done[-1].at) >= parse_duration(config.watch_every)


def watch_signal(ws: Workspace, table: str, eval_set: str, config: MonitorConfig, now: datetime) -> Signal:
    """Run and store one candidate watch; an alarm when a candidate beats production clearly."""
    watch = watch_candidates(
        ws,
        table,
        eval_set=eval_set,
        candidates=list(config.watch_candidates) or None,
        metric=config.watch_metric,
        margin=config.watch_margin,
        now=now,
    )
    best = max(watch.rows, key=lambda r: r["delta"])
    values = {"best_delta": float(best["delta"]), "best_ci_low": float(best["ci_low"])}
    return Signal(
        "candidates", "alarm" if watch.alarmed else "ok", watch.summary, values, {"watch_seq": watch.seq}
    )
