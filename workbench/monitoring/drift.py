"""Judging a pass against its baseline window: is production drifting?

The baseline window is the first ``baseline_passes`` passes without an alarm that looked at
the production column since it last became production (a promotion or a rollback to it
opens a new window; a refresh to newer data of the same column does not). Until a window has
one pass, drift signals are recorded as ``baseline`` and judged by nothing; passes inside the
window are judged against the passes of the window before them.

- Eval metrics (:func:`judge_eval`): the same labelled queries as the baseline, so the
  comparison is paired per query (:func:`workbench.metrics.paired.paired_delta`, BCa bootstrap
  95% CI). Alarm when the mean dropped by at least ``min_metric_drop`` *and* the CI of the
  change lies entirely below 0: a drop beyond what the queries' own spread explains.
- Score distributions (:func:`judge_scores`): for each feature (top-1 cosine, margin, mean
  top-10), a two-sample Kolmogorov–Smirnov test (``scipy.stats.ks_2samp``) of this pass's
  sample against the pooled baseline samples of the same source (query log or eval queries).
  Alarm when a feature's p-value is below ``score_alpha`` / 3 (Bonferroni) *and* its KS
  statistic is at least ``score_min_effect``: significance alone would fire on practically
  irrelevant shifts in large samples, effect size alone on sampling noise in small ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from workbench.formatting import interval, number
from workbench.metrics.paired import paired_delta
from workbench.monitoring.config import MonitorConfig
from workbench.monitoring.signals import FEATURES
from workbench.production.history import PromotionRecord
from workbench.store.monitor_runs import MonitorRun, Signal

__all__ = ["baseline_window", "judge_eval", "judge_scores"]


_RESAMPLES = 2000


def baseline_window(
    runs: Sequence[MonitorRun], events: Sequence[PromotionRecord], *, column: str, size: int
) -> list[MonitorRun]:
    """The passes that form the baseline of production ``column`` (oldest first).

    The window opens when ``column`` last became production (a promotion or a rollback to it);
    a refresh (same column, newer data) or an index change does not reopen it, so what they
    change is judged against how the column served before them.
    """
    became = [e.at for e in events if e.action in ("promote", "rollback") and e.to_column == column]
    since = _time(became[-1]) if became else None
    window = [
        r
        for r in runs
        if r.column == column and r.verdict == "ok" and (since is None or _time(r.at) >= since)
    ]
    return window[:size]


def judge_eval(current: Signal, baseline: Sequence[MonitorRun], config: MonitorConfig) -> Signal:
    """Paired per-query comparison of the eval metrics against the baseline's (see module doc)."""
    if current.status != "baseline":
        return current
    previous = [s for r in baseline if (s := r.signal("eval")) is not None and s.detail.get("per_query")]
    previous = [s for s in previous if s.detail.get("eval_set") == current.detail.get("eval_set")]
    if not previous:
        return Signal(
            "eval", "baseline", current.reason + " (baseline: first pass)", current.values, current.detail
        )
    values = dict(current.values)
    drops = []
    for metric, now in current.detail["per_query"].items():
        then = _mean_per_query([s.detail["per_query"].get(metric, {}) for s in previous])
        shared = sorted(set(now) & set(then))
        if len(shared) < 2:
            continue
        stats = paired_delta(
            metric,
            pd.Series([then[q] for q in shared], index=shared),
            pd.Series([now[q] for q in shared], index=shared),
            n_resamples=_RESAMPLES,
        )
        values.update({f"{metric}:baseline": stats.baseline_mean, f"{metric}:delta": stats.delta})
        values.update({f"{metric}:ci_low": stats.ci_low, f"{metric}:ci_high": stats.ci_high})
        if stats.delta <= -config.min_metric_drop and stats.ci_high < 0:
            drops.append(
                f"{metric} fell from {stats.baseline_mean:.3f} to {stats.candidate_mean:.3f} "
                f"(Δ {number(stats.delta, signed=True)}, 95% CI {interval(stats.ci_low, stats.ci_high)}, "
                f"{stats.losses} queries worse, {stats.wins} better)"
            )
    base = f"against {len(previous)} baseline pass{'es' if len(previous) > 1 else ''}"
    if drops:
        return Signal("eval", "alarm", "; ".join(drops) + f" {base}", values, current.detail)
    return Signal("eval", "ok", f"{current.reason}; no drop beyond its CI {base}", values, current.detail)


def judge_scores(current: Signal, baseline: Sequence[MonitorRun], config: MonitorConfig) -> Signal:
    """KS tests of the score features against the pooled baseline samples of the same source."""
    if current.status != "baseline":
        return current
    source = current.detail.get("source")
    previous = [
        s for r in baseline if (s := r.signal("scores")) is not None and s.detail.get("source") == source
    ]
    if not previous:
        return Signal(
            "scores", "baseline", current.reason + " (baseline: first pass)", current.values, current.detail
        )
    values = dict(current.values)
    shifts = []
    limit = config.score_alpha / len(FEATURES)
    for feature in FEATURES:
        now = np.asarray(current.detail["sample"][feature], dtype=float)
        then = np.concatenate([np.asarray(s.detail["sample"][feature], dtype=float) for s in previous])
        if len(now) < 2 or len(then) < 2:
            continue
        result = ks_2samp(now, then)
        statistic, p = float(result.statistic), float(result.pvalue)
        values.update(
            {f"{feature}:ks": statistic, f"{feature}:p": p, f"{feature}:baseline_mean": float(then.mean())}
        )
        if p < limit and statistic >= config.score_min_effect:
            shifts.append(
                f"{feature} moved from mean {then.mean():.3f} to {now.mean():.3f} (KS {statistic:.2f}, "
                f"p {p:.1e} < {limit:.1e})"
            )
    base = f"{len(previous)} baseline pass{'es' if len(previous) > 1 else ''} ({source})"
    if shifts:
        return Signal("scores", "alarm", "; ".join(shifts) + f" against {base}", values, current.detail)
    return Signal("scores", "ok", f"{current.reason}; no shift against {base}", values, current.detail)


def _mean_per_query(parts: Sequence[dict[str, float]]) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for part in parts:
        for query, value in part.items():
            sums.setdefault(query, []).append(value)
    return {q: float(np.mean(v)) for q, v in sums.items()}


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
