"""Calibrating the gate on a real eval set: how often would it decide wrongly on a small one?

Given per-query metrics of two models on a large judged set (where the truth — which model is
better — is known with confidence), draw many random subsets of the size a team would judge,
run the gate's statistics on each, and count: a GO for the truly worse candidate (false GO),
a NO-GO for the truly better one (false NO-GO), and INCONCLUSIVE. For each INCONCLUSIVE subset,
add as many queries as the verdict asked for (drawn from the rest of the set) and see whether
the gate then decides. No re-embedding: everything works on the per-query metric values.

Example:
    >>> runs = calibrate_gate(per_query_l3, per_query_l6, GateConfig(), subsets=200)  # doctest: +SKIP
    >>> summarise_calibration(runs)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from workbench.errors import InvalidArgumentError
from workbench.gate.config import GateConfig
from workbench.gate.verdict import GateCheck, Verdict, combine, metric_checks
from workbench.metrics.paired import paired_deltas

__all__ = ["calibrate_gate", "gate_verdict", "summarise_calibration"]


def gate_verdict(
    config: GateConfig,
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> tuple[Verdict, int | None]:
    """The gate's statistical verdict on per-query metrics (no hard checks: same table, data, pins).

    Args:
        config: The gate; its metrics must be columns of both frames.
        baseline: Per-query values of the production model, one column per metric.
        candidate: The candidate's, same queries and columns.
        n_resamples: Sign patterns for the test, as ``compare`` uses.
        seed: Seed of the sign patterns.

    Returns:
        The verdict and, for INCONCLUSIVE, the judged queries estimated to decide (or None).
    """
    metrics = config.metrics
    stats = paired_deltas(baseline[metrics], candidate[metrics], n_resamples=n_resamples, seed=seed)
    deltas = pd.DataFrame([asdict(s) for s in stats.values()]).set_index("metric")
    n = len(baseline)
    enough = n >= config.min_queries
    queries = GateCheck(
        name="queries",
        outcome="pass" if enough else "undecided",
        detail=f"{n} judged queries",
        queries_needed=None if enough else config.min_queries,
    )
    return combine([queries, *metric_checks(config, deltas)])


def calibrate_gate(
    worse: pd.DataFrame,
    better: pd.DataFrame,
    config: GateConfig,
    *,
    size: int = 30,
    subsets: int = 100,
    seed: int = 0,
    n_resamples: int = 10_000,
) -> pd.DataFrame:
    """Run the gate both ways on ``subsets`` random subsets of ``size`` queries.

    Args:
        worse: Per-query metrics of the truly worse model (on the full set), indexed by query.
        better: The truly better model's, same queries and columns.
        config: The gate to calibrate.
        size: Queries per subset (without replacement).
        subsets: Number of random subsets.
        seed: Seed of the subsets, the follow-up draws and the tests.
        n_resamples: Sign patterns per test.

    Returns:
        One row per subset and direction: subset, direction (``better over worse``: the better
        model as candidate; ``worse over better``), verdict, queries_needed, added (queries
        drawn for the follow-up, capped by what the set has), follow_up (the verdict after
        adding them; None unless INCONCLUSIVE), wrong (GO for the worse candidate, NO-GO for the
        better one).

    Raises:
        InvalidArgumentError: the frames differ in queries, or ``size`` is not below the set size.
    """
    if not worse.index.sort_values().equals(better.index.sort_values()):
        raise InvalidArgumentError(
            "worse and better must cover the same queries; evaluate both on one eval set"
        )
    if not 2 <= size < len(worse):
        raise InvalidArgumentError(
            f"size must be in [2, {len(worse) - 1}] for {len(worse)} queries, got {size}"
        )
    rng = np.random.default_rng(seed)
    ids = np.asarray(worse.index)
    rows = []
    for subset in range(subsets):
        order = rng.permutation(ids)
        for direction, base, cand, bad in (
            ("better over worse", worse, better, "NO-GO"),
            ("worse over better", better, worse, "GO"),
        ):
            rows.append(
                _one(config, base, cand, order, size, n_resamples, seed + subset)
                | {"subset": subset, "direction": direction, "wrong_verdict": bad}
            )
    frame = pd.DataFrame(rows)
    frame["wrong"] = frame["verdict"] == frame.pop("wrong_verdict")
    return frame[["subset", "direction", "verdict", "queries_needed", "added", "follow_up", "wrong"]]


def summarise_calibration(runs: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per direction: subsets, GO / NO-GO / INCONCLUSIVE shares, wrong-verdict rate with its
    one-sided Clopper-Pearson upper bound, and the share of INCONCLUSIVE subsets the follow-up decided.
    """
    rows = []
    for direction, group in runs.groupby("direction", sort=False):
        n = len(group)
        wrong = int(group["wrong"].sum())
        inconclusive = group[group["verdict"] == "INCONCLUSIVE"]
        decided = int(inconclusive["follow_up"].isin(["GO", "NO-GO"]).sum())
        rows.append(
            {
                "direction": direction,
                "subsets": n,
                "GO": float((group["verdict"] == "GO").mean()),
                "NO-GO": float((group["verdict"] == "NO-GO").mean()),
                "INCONCLUSIVE": float((group["verdict"] == "INCONCLUSIVE").mean()),
                "wrong": wrong / n,
                "wrong_upper": _upper_bound(wrong, n, confidence),
                "inconclusive_decided": decided / len(inconclusive) if len(inconclusive) else math.nan,
                "median_added": float(inconclusive["added"].median()) if len(inconclusive) else math.nan,
            }
        )
    return pd.DataFrame(rows).set_index("direction")


def _one(
    config: GateConfig,
    base: pd.DataFrame,
    cand: pd.DataFrame,
    order: np.ndarray,
    size: int,
    n_resamples: int,
    seed: int,
) -> dict[str, object]:
    chosen = order[:size]
    verdict, needed = gate_verdict(
        config, base.loc[chosen], cand.loc[chosen], n_resamples=n_resamples, seed=seed
    )
    result: dict[str, object] = {"verdict": verdict, "queries_needed": needed, "added": 0, "follow_up": None}
    if verdict == "INCONCLUSIVE" and needed is None:
        result["follow_up"] = "no estimate"
    elif verdict == "INCONCLUSIVE" and needed is not None:
        total = min(len(order), max(needed, size + 1))  # capped by what the set has
        grown = order[:total]
        follow_up, _ = gate_verdict(
            config, base.loc[grown], cand.loc[grown], n_resamples=n_resamples, seed=seed
        )
        result.update(added=total - size, follow_up=follow_up)
    return result


def _upper_bound(failures: int, n: int, confidence: float) -> float:
    """One-sided Clopper-Pearson upper confidence bound of a binomial proportion."""
    if failures >= n:
        return 1.0
    return float(scipy_stats.beta.ppf(confidence, failures + 1, n - failures))
