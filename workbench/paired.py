"""Paired statistics between two runs scored on the same queries.

For one metric, the candidate − baseline difference per query gets a paired t-test, a
sign-flip randomisation test, a bootstrap 95% confidence interval, wins/ties/losses and the
minimum detectable effect, and a sentence a person can act on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from workbench.errors import InvalidArgument
from workbench.evaluate import metric_label

__all__ = ["DeltaStats", "describe_delta", "paired_delta"]

TIE_TOLERANCE = 1e-12
_Z_POWER_80 = float(scipy_stats.norm.ppf(0.8))
_MIN_RESAMPLES = 100
# Bound the resample matrices (batch × n) to about 8 MB of float64 per scipy batch.
_BATCH_CELLS = 1_000_000


@dataclass(frozen=True)
class DeltaStats:
    """Paired comparison of one metric between a baseline and a candidate run.

    Attributes:
        metric: The metric name, e.g. ``"ndcg@10"``.
        n: Number of paired queries.
        baseline_mean: Mean of the baseline per-query values.
        candidate_mean: Mean of the candidate per-query values.
        delta: ``candidate_mean - baseline_mean``.
        ci_low: Lower end of the 95% bootstrap (BCa) interval of the mean difference.
        ci_high: Upper end of that interval.
        p_ttest: Two-sided paired t-test p-value (1.0 when every difference is 0).
        p_permutation: Two-sided paired sign-flip randomisation test p-value.
        wins: Queries where the candidate is better (by more than 1e-12).
        ties: Queries within 1e-12.
        losses: Queries where the candidate is worse.
        mde: Minimum detectable effect at alpha 0.05 and power 0.8 for this n and the observed
            SD of differences; NaN when n < 2.
    """

    metric: str
    n: int
    baseline_mean: float
    candidate_mean: float
    delta: float
    ci_low: float
    ci_high: float
    p_ttest: float
    p_permutation: float
    wins: int
    ties: int
    losses: int
    mde: float


def paired_delta(
    metric: str,
    baseline: pd.Series,
    candidate: pd.Series,
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> DeltaStats:
    """Compare per-query values of one metric between two runs on the same queries.

    The randomisation test flips the sign of each paired difference. When all 2**n sign
    patterns fit in ``n_resamples`` it is exact (``scipy.stats.permutation_test``); otherwise
    the patterns are sampled with ``scipy.stats.monte_carlo_test``, which follows the same
    p-value conventions but draws the signs as bits, so 10,000 queries take well under a second.

    Args:
        metric: Name carried into the result, e.g. ``"ndcg@10"``.
        baseline: Per-query values of the current model, indexed by query id.
        candidate: Per-query values of the new model, same index set as ``baseline``.
        n_resamples: Bootstrap and randomisation resamples (at least 100).
        seed: Seed for both resampling procedures, so reruns give identical numbers.

    Returns:
        The paired statistics.

    Raises:
        InvalidArgument: The index sets differ, an index repeats, a value is NaN, there are no
            queries, or ``n_resamples`` < 100.
    """
    if n_resamples < _MIN_RESAMPLES:
        raise InvalidArgument(
            f"n_resamples must be at least {_MIN_RESAMPLES}, got {n_resamples}; "
            "the default 10_000 resolves p-values to 1e-4"
        )
    base, cand = _align(baseline, candidate)
    diff = cand - base
    wins = int(np.count_nonzero(diff > TIE_TOLERANCE))
    losses = int(np.count_nonzero(diff < -TIE_TOLERANCE))
    ci_low, ci_high = _bootstrap_ci(diff, n_resamples, seed)
    return DeltaStats(
        metric=metric,
        n=int(diff.size),
        baseline_mean=float(base.mean()),
        candidate_mean=float(cand.mean()),
        delta=float(cand.mean() - base.mean()),
        ci_low=ci_low,
        ci_high=ci_high,
        p_ttest=_ttest_p(base, cand, diff),
        p_permutation=_sign_flip_p(diff, n_resamples, seed),
        wins=wins,
        ties=int(diff.size) - wins - losses,
        losses=losses,
        mde=_mde(diff, alpha=0.05),
    )


def describe_delta(stats: DeltaStats, *, alpha: float = 0.05) -> str:
    """Say in one sentence what a paired comparison means for the migration decision.

    The p-value quoted is the randomisation test's. When it is not below ``alpha`` the sentence
    adds the smallest difference this many queries could reliably detect (power 0.8).

    Args:
        stats: Output of :func:`paired_delta`.
        alpha: Significance level, in (0, 1).

    Returns:
        E.g. ``"nDCG@10 +0.041 [0.018, 0.064], p=0.001: the candidate is better on 61
        queries, worse on 22 (17 ties)."``

    Raises:
        InvalidArgument: ``alpha`` is not in (0, 1).
    """
    if not 0.0 < alpha < 1.0:
        raise InvalidArgument(f"alpha must be in (0, 1), got {alpha!r}; 0.05 is usual")
    ci = ""
    if math.isfinite(stats.ci_low) and math.isfinite(stats.ci_high):
        ci = f" [{stats.ci_low:.3f}, {stats.ci_high:.3f}]"
    head = (
        f"{metric_label(stats.metric)} {stats.delta:+.3f}{ci}, {_format_p(stats.p_permutation)}: "
        f"the candidate is better on {_plural(stats.wins, 'query', 'queries')}, "
        f"worse on {stats.losses} ({_plural(stats.ties, 'tie', 'ties')})"
    )
    if stats.p_permutation < alpha:
        return head + "."
    return f"{head} — not significant; {_detectable(stats, alpha)}."


# --- metrics -------------------------------------------------------------------------------


# --- statistics ----------------------------------------------------------------------------


def _align(baseline: pd.Series, candidate: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    for name, series in (("baseline", baseline), ("candidate", candidate)):
        if not isinstance(series, pd.Series):
            raise InvalidArgument(f"{name} must be a pandas Series, got {type(series).__name__}")
        if series.index.has_duplicates:
            dupes = series.index[series.index.duplicated()].unique().tolist()[:3]
            raise InvalidArgument(f"{name} repeats query ids {dupes}; give one value per query")
        if series.isna().any():
            raise InvalidArgument(f"{name} has NaN values; score every query (0.0 if missed)")
    only_base = baseline.index.difference(candidate.index)
    only_cand = candidate.index.difference(baseline.index)
    if len(only_base) or len(only_cand):
        raise InvalidArgument(
            "baseline and candidate must cover the same queries: "
            f"{len(only_base)} only in baseline (e.g. {only_base[:3].tolist()}), "
            f"{len(only_cand)} only in candidate (e.g. {only_cand[:3].tolist()}); "
            "evaluate both runs against the same qrels"
        )
    if baseline.empty:
        raise InvalidArgument("baseline and candidate are empty; need at least one query")
    base = baseline.to_numpy(dtype=float)
    cand = candidate.reindex(baseline.index).to_numpy(dtype=float)
    return base, cand


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _batch(n: int) -> int:
    return max(1, _BATCH_CELLS // max(n, 1))


def _all_tied(diff: np.ndarray) -> bool:
    return bool(np.all(np.abs(diff) <= TIE_TOLERANCE))


def _constant(diff: np.ndarray) -> bool:
    return bool(np.ptp(diff) <= TIE_TOLERANCE)


def _bootstrap_ci(diff: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float]:
    if diff.size < 2:
        return math.nan, math.nan
    if _constant(diff):  # every resample has the same mean; BCa would divide by zero
        mean = float(diff.mean())
        return mean, mean
    result = scipy_stats.bootstrap(
        (diff,),
        _mean,
        n_resamples=n_resamples,
        confidence_level=0.95,
        method="BCa",
        vectorized=True,
        batch=_batch(diff.size),
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _ttest_p(base: np.ndarray, cand: np.ndarray, diff: np.ndarray) -> float:
    if diff.size < 2:
        return math.nan
    if _all_tied(diff):
        return 1.0
    if _constant(diff):  # t is infinite; scipy would warn about catastrophic cancellation
        return 0.0
    return float(scipy_stats.ttest_rel(cand, base).pvalue)


def _sign_flip_p(diff: np.ndarray, n_resamples: int, seed: int) -> float:
    if diff.size < 2 or _all_tied(diff):  # both sign patterns of one query are as extreme
        return 1.0
    if 2**diff.size <= n_resamples:
        exact = scipy_stats.permutation_test(
            (diff,), _mean, permutation_type="samples", vectorized=True, n_resamples=n_resamples
        )
        return float(exact.pvalue)
    result = scipy_stats.monte_carlo_test(
        (diff,),
        (_sign_flipper(diff, seed),),
        _mean,
        vectorized=True,
        n_resamples=n_resamples,
        batch=_batch(diff.size),
    )
    return float(result.pvalue)


def _sign_flipper(diff: np.ndarray, seed: int) -> Callable[[tuple[int, int]], np.ndarray]:
    """Null sampler for the paired test: each difference keeps its size, its sign is a coin."""
    rng = np.random.default_rng(seed)
    n = diff.size

    def rvs(size: tuple[int, int]) -> np.ndarray:
        random_bytes = rng.integers(0, 256, size=(size[0], (n + 7) // 8), dtype=np.uint8)
        keep = np.unpackbits(random_bytes, axis=-1, count=n).astype(bool)
        return np.where(keep, diff, -diff)

    return rvs


def _mde(diff: np.ndarray, *, alpha: float, power: float = 0.8) -> float:
    if diff.size < 2:
        return math.nan
    if _constant(diff):
        return 0.0
    z = float(scipy_stats.norm.ppf(1.0 - alpha / 2.0)) + float(scipy_stats.norm.ppf(power))
    return z * float(np.std(diff, ddof=1)) / math.sqrt(diff.size)


# --- wording -------------------------------------------------------------------------------


def _format_p(p: float) -> str:
    if math.isnan(p):
        return "p=n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _detectable(stats: DeltaStats, alpha: float) -> str:
    untied = stats.wins + stats.losses
    if untied == 0:
        return "the two runs score every query the same"
    if stats.n < 2 or math.isnan(stats.mde) or 2.0 ** (1 - untied) >= alpha:
        # The smallest two-sided sign-flip p-value is 2 / 2**untied.
        differ = "1 query differs" if untied == 1 else f"{untied} queries differ"
        return (
            f"only {differ}, too few for the test to reach p<{alpha:g} whatever the size "
            "of the difference; judge more queries"
        )
    # mde is stored for alpha 0.05; rescale the normal quantiles for the alpha asked about.
    scale = (float(scipy_stats.norm.ppf(1 - alpha / 2)) + _Z_POWER_80) / (
        float(scipy_stats.norm.ppf(0.975)) + _Z_POWER_80
    )
    return (
        f"with {stats.n} queries only differences larger than ±{stats.mde * scale:.3f} "
        "would be reliably detected"
    )
