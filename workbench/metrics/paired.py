"""Paired statistics between two runs scored on the same queries.

For each metric, the candidate − baseline difference per query gets a sign-flip randomisation
test, the 95% confidence interval made by **inverting that same test**, a paired t-test (for
reference), wins/ties/losses, the minimum detectable effect, and a sentence a person can act on.

Why an inverted test and not a bootstrap: a percentile or BCa bootstrap interval and a
permutation test answer slightly different questions, and on ties-heavy metrics they disagree
(on Cranfield hit_rate@100 — 6 wins, 218 ties, 1 loss — the bootstrap interval excluded 0 while
the test gave p = 0.12). Here the interval is every shift δ that the test does not reject when
applied to the differences minus δ, so **the interval excludes 0 exactly when p < 0.05**, and
the gate's non-inferiority check on the interval's lower end is the one-sided test at the
margin. For each random sign pattern the decision is monotone in δ with a break point that has
a closed form, so the interval endpoints are order statistics of those break points: no search.

Ties-heavy metrics (hit rate, recall at large k): tied queries contribute nothing at δ = 0, so
the test conditions on the queries that differ, and :func:`describe_delta` says how many do.
The sign-flip test assumes the differences are symmetric around δ; a heap of exact ties at 0
is evidence against any centre other than 0, so on such metrics one end of the interval often
sits at 0 (Cranfield hit_rate@100, 6 wins / 218 ties / 1 loss: p = 0.12, interval [0.000,
+0.045]) — still consistent with the test, read it as "no evidence of a difference". With so
few differing queries that no sign pattern can be extreme enough the interval is unbounded
(±inf): the honest answer.

All the metrics of a comparison share one set of sign patterns, so twelve metrics cost about
what one does: the null distribution is one product of a ±1 sign matrix with the matrix of
differences.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from workbench.errors import InvalidArgumentError
from workbench.formatting import interval, number, p_text
from workbench.metrics.labelled import metric_label

__all__ = ["DeltaStats", "describe_delta", "paired_delta", "paired_deltas"]

TIE_TOLERANCE = 1e-12
_Z_POWER_80 = float(scipy_stats.norm.ppf(0.8))
_MIN_RESAMPLES = 100
_CONFIDENCE = 0.95
# Bound the resample matrices (batch × n) to about 8 MB of float64 per batch.
_BATCH_CELLS = 1_000_000
# Resampled means that are equal in exact arithmetic differ by rounding of about n·eps·mean|d|
# (the same terms summed in another order); they count as ties within this share of mean|d|.
_RELATIVE_TIE = 1e-9
# OpenBLAS keeps a matrix product of m·n·k <= 262,144 on the calling thread. The resampling
# products are sliced to that size: waking the thread pool costs more than it saves here, and
# its spinning threads slow down everything after them on a busy machine (3× seen on 2 cores).
_SINGLE_THREAD_PRODUCT = 262_144


@dataclass(frozen=True)
class DeltaStats:
    """Paired comparison of one metric between a baseline and a candidate run.

    Attributes:
        metric: The metric name, e.g. ``"ndcg@10"``.
        n: Number of paired queries.
        baseline_mean: Mean of the baseline per-query values.
        candidate_mean: Mean of the candidate per-query values.
        delta: ``candidate_mean - baseline_mean``.
        ci_low: Lower end of the 95% interval of the mean difference, by inversion of the
            sign-flip test (``-inf`` when no shift can be rejected below the mean).
        ci_high: Upper end of that interval (``+inf`` likewise).
        p_ttest: Two-sided paired t-test p-value (1.0 when every difference is 0); for
            reference only, decisions use ``p_permutation``.
        p_permutation: Two-sided paired sign-flip randomisation test p-value; below 0.05
            exactly when the interval excludes 0.
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

    The single-metric form of :func:`paired_deltas`: the same statistics and, for the same
    seed, the same numbers (to float rounding).

    Args:
        metric: Name carried into the result, e.g. ``"ndcg@10"``.
        baseline: Per-query values of the current model, indexed by query id.
        candidate: Per-query values of the new model, same index set as ``baseline``.
        n_resamples: Bootstrap and randomisation resamples (at least 100).
        seed: Seed for both resampling procedures, so reruns give identical numbers.

    Returns:
        The paired statistics.

    Raises:
        InvalidArgumentError: The index sets differ, an index repeats, a value is NaN, there are no
            queries, or ``n_resamples`` < 100.
    """
    for name, series in (("baseline", baseline), ("candidate", candidate)):
        if not isinstance(series, pd.Series):
            raise InvalidArgumentError(f"{name} must be a pandas Series, got {type(series).__name__}")
    frames = baseline.to_frame(name=metric), candidate.to_frame(name=metric)
    return paired_deltas(*frames, n_resamples=n_resamples, seed=seed)[metric]


def paired_deltas(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, DeltaStats]:
    """Compare every metric of two runs on the same queries, with one shared resampling.

    The randomisation test flips the sign of each paired difference: exactly, over all 2**n
    sign patterns, when they fit in ``n_resamples`` (as ``scipy.stats.permutation_test``),
    otherwise over ``n_resamples`` random patterns with the p-value of
    ``scipy.stats.monte_carlo_test`` ((extreme + 1) / (resamples + 1), doubled for two
    sides). The 95% interval is the set of shifts that test does not reject (see the module
    docstring), so it excludes 0 exactly when the p-value is below 0.05. A metric
    gets the numbers :func:`paired_delta` gives it with the same seed (to float rounding).

    Args:
        baseline: Per-query values of the current model, one column per metric (e.g. the
            output of :func:`workbench.metrics.labelled.per_query_metrics`), indexed by query id.
        candidate: The new model's values, with the same columns and query ids.
        n_resamples: Bootstrap and randomisation resamples (at least 100).
        seed: Seed for both resampling procedures, so reruns give identical numbers.

    Returns:
        Metric name → paired statistics, in the order of ``baseline``'s columns.

    Raises:
        InvalidArgumentError: The query ids or metric columns differ, a query id or column repeats,
            a value is NaN, there are no queries, or ``n_resamples`` < 100.

    Example:
        >>> base = pd.DataFrame({"ndcg@10": [0.2, 0.4, 0.5], "mrr@10": [0.5, 1.0, 1.0]})
        >>> cand = base + 0.1
        >>> round(paired_deltas(base, cand)["mrr@10"].delta, 3)
        0.1
    """
    if n_resamples < _MIN_RESAMPLES:
        raise InvalidArgumentError(
            f"n_resamples must be at least {_MIN_RESAMPLES}, got {n_resamples}; "
            "the default 10_000 resolves p-values to 1e-4"
        )
    metrics, base, cand = _align(baseline, candidate)
    diff = cand - base
    n = diff.shape[1]
    tied = np.all(np.abs(diff) <= TIE_TOLERANCE, axis=1)
    constant = np.ptp(diff, axis=1) <= TIE_TOLERANCE
    wins = np.count_nonzero(diff > TIE_TOLERANCE, axis=1)
    losses = np.count_nonzero(diff < -TIE_TOLERANCE, axis=1)
    base_mean, cand_mean = base.mean(axis=1), cand.mean(axis=1)
    p_ttest = _ttest_p(base, cand, tied, constant)
    p_permutation, ci_low, ci_high = _sign_flip(diff, tied, n_resamples, seed)
    mde = _mde(diff, constant, alpha=0.05)
    return {
        metric: DeltaStats(
            metric=metric,
            n=n,
            baseline_mean=float(base_mean[j]),
            candidate_mean=float(cand_mean[j]),
            delta=float(cand_mean[j] - base_mean[j]),
            ci_low=float(ci_low[j]),
            ci_high=float(ci_high[j]),
            p_ttest=float(p_ttest[j]),
            p_permutation=float(p_permutation[j]),
            wins=int(wins[j]),
            ties=n - int(wins[j]) - int(losses[j]),
            losses=int(losses[j]),
            mde=float(mde[j]),
        )
        for j, metric in enumerate(metrics)
    }


def describe_delta(stats: DeltaStats, *, alpha: float = 0.05) -> str:
    """Say in one sentence what a paired comparison means for the migration decision.

    The p-value quoted is the randomisation test's. When it is not below ``alpha`` the sentence
    adds the smallest difference this many queries could reliably detect (power 0.8).

    Args:
        stats: Output of :func:`paired_delta`.
        alpha: Significance level, in (0, 1).

    Returns:
        E.g. ``"nDCG@10 +0.041 [+0.018, +0.064], p=0.001: the candidate is better on 61
        queries, worse on 22 (17 ties)."``

    Raises:
        InvalidArgumentError: ``alpha`` is not in (0, 1).
    """
    if not 0.0 < alpha < 1.0:
        raise InvalidArgumentError(f"alpha must be in (0, 1), got {alpha!r}; 0.05 is usual")
    ci = ""
    if math.isfinite(stats.ci_low) and math.isfinite(stats.ci_high):
        ci = " " + interval(stats.ci_low, stats.ci_high)
    delta = number(stats.delta, signed=True)
    head = (
        f"{metric_label(stats.metric)} {delta}{ci}, {p_text(stats.p_permutation)}: "
        f"the candidate is better on {_plural(stats.wins, 'query', 'queries')}, "
        f"worse on {stats.losses} ({_plural(stats.ties, 'tie', 'ties')})"
    )
    if stats.p_permutation < alpha:
        return head + "."
    return f"{head} — not significant; {_detectable(stats, alpha)}."


# --- statistics ----------------------------------------------------------------------------
# Arrays are metrics × queries, so each metric's values are one contiguous row and a row's
# mean is summed exactly as numpy sums a 1-D array.


def _align(baseline: pd.DataFrame, candidate: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    for name, frame in (("baseline", baseline), ("candidate", candidate)):
        if not isinstance(frame, pd.DataFrame):
            raise InvalidArgumentError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
        _check_values(name, frame)
    _check_same_metrics(baseline.columns, candidate.columns)
    _check_same_queries(baseline.index, candidate.index)
    base = baseline.to_numpy(dtype=float).T
    cand = candidate.reindex(index=baseline.index, columns=baseline.columns).to_numpy(dtype=float).T
    metrics = [str(metric) for metric in baseline.columns]
    return metrics, np.ascontiguousarray(base), np.ascontiguousarray(cand)


def _check_values(name: str, frame: pd.DataFrame) -> None:
    if frame.index.has_duplicates:
        dupes = frame.index[frame.index.duplicated()].unique().tolist()[:3]
        raise InvalidArgumentError(f"{name} repeats query ids {dupes}; give one value per query")
    if frame.columns.has_duplicates:
        dupes = frame.columns[frame.columns.duplicated()].unique().tolist()
        raise InvalidArgumentError(f"{name} repeats metric columns {dupes}; give one column per metric")
    missing = frame.isna().any()
    if missing.any():
        where = ", ".join(map(str, missing.index[missing.to_numpy()]))
        raise InvalidArgumentError(f"{name} has NaN values (in {where}); score every query (0.0 if missed)")


def _check_same_metrics(baseline: pd.Index, candidate: pd.Index) -> None:
    only_base, only_cand = baseline.difference(candidate), candidate.difference(baseline)
    if len(only_base) or len(only_cand):
        raise InvalidArgumentError(
            "baseline and candidate must have the same metric columns: "
            f"{only_base.tolist()} only in baseline, {only_cand.tolist()} only in candidate; "
            "compute both runs' metrics with the same list"
        )


def _check_same_queries(baseline: pd.Index, candidate: pd.Index) -> None:
    only_base, only_cand = baseline.difference(candidate), candidate.difference(baseline)
    if len(only_base) or len(only_cand):
        raise InvalidArgumentError(
            "baseline and candidate must cover the same queries: "
            f"{len(only_base)} only in baseline (e.g. {only_base[:3].tolist()}), "
            f"{len(only_cand)} only in candidate (e.g. {only_cand[:3].tolist()}); "
            "evaluate both runs against the same qrels"
        )
    if baseline.empty:
        raise InvalidArgumentError("baseline and candidate are empty; need at least one query")


def _batches(total: int, n: int) -> Iterator[tuple[int, int]]:
    """(start, stop) row ranges of at most ``_BATCH_CELLS`` cells for ``total`` rows of ``n``."""
    rows = max(1, _BATCH_CELLS // max(n, 1))
    for start in range(0, total, rows):
        yield start, min(start + rows, total)


def _tie_margin(diff: np.ndarray) -> np.ndarray:
    """Per metric, the distance within which a resampled mean equals the observed one."""
    return _RELATIVE_TIE * np.abs(diff).mean(axis=1)


def _product(diff: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``diff @ rows.T`` in slices small enough for BLAS to stay on one thread."""
    step = max(1, _SINGLE_THREAD_PRODUCT // max(diff.size, 1))
    return np.concatenate([diff @ rows[i : i + step].T for i in range(0, rows.shape[0], step)], axis=1)


def _ttest_p(base: np.ndarray, cand: np.ndarray, tied: np.ndarray, constant: np.ndarray) -> np.ndarray:
    m, n = base.shape
    if n < 2:
        return np.full(m, math.nan)
    # A constant nonzero difference has an infinite t, where scipy would warn about
    # catastrophic cancellation.
    p = np.where(tied, 1.0, 0.0)
    regular = ~(tied | constant)
    if regular.any():
        p[regular] = scipy_stats.ttest_rel(cand[regular], base[regular], axis=1).pvalue
    return p


def _sign_flip(
    diff: np.ndarray, tied: np.ndarray, n_resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided sign-flip p-value and the 95% interval that inverts it, per metric."""
    m, n = diff.shape
    p = np.ones(m)  # all tied, or one query: both sign patterns are as extreme
    low, high = np.full(m, math.nan), np.full(m, math.nan)
    if n < 2:
        return p, low, high
    exact = 2**n <= n_resamples
    signs = _all_signs(n) if exact else _random_signs(n, n_resamples, seed)
    test = _inverted_test(diff, signs, 2**n if exact else n_resamples, exact=exact)
    p[~tied] = test.p[~tied]
    return p, test.low, test.high


@dataclass(frozen=True)
class _Inversion:
    p: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _inverted_test(diff: np.ndarray, signs: Iterator[np.ndarray], total: int, *, exact: bool) -> _Inversion:
    """The sign-flip test of each row's mean at 0, and the shifts δ it does not reject.

    For a sign pattern s with null mean ``a = s·d/n`` and sign mean ``b = mean(s)``, the shifted
    data d − δ has null mean ``a − δb`` and observed mean ``mean(d) − δ``. The pattern is "as
    high" as the observation when ``δ ≥ (a − mean + tol)/(b − 1)`` and "as low" when
    ``δ ≤ (a − mean − tol)/(b − 1)`` (b < 1; the identity pattern counts always), so each
    one-sided p-value is a step function of δ and the interval ends are order statistics.
    """
    n = diff.shape[1]
    observed = diff.mean(axis=1, keepdims=True)
    margin = _tie_margin(diff)[:, None]
    rises, falls = [], []
    for batch in signs:
        null = _product(diff, batch) / n
        slope = batch.mean(axis=1) - 1.0  # b − 1 <= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            rise = np.where(slope < 0, (null - observed + margin) / slope, -np.inf)
            fall = np.where(slope < 0, (null - observed - margin) / slope, np.inf)
        rises.append(rise)
        falls.append(fall)
    rise, fall = np.concatenate(rises, axis=1), np.concatenate(falls, axis=1)
    adjustment = 0 if exact else 1  # the observed pattern is among all 2**n, not the random ones
    as_high = np.count_nonzero(rise <= 0.0, axis=1)
    as_low = np.count_nonzero(fall >= 0.0, axis=1)
    p = np.minimum(np.minimum(as_low + adjustment, as_high + adjustment) / (total + adjustment) * 2, 1.0)
    # Not rejected at δ: (count + adjustment) / (total + adjustment) >= alpha / 2, for both tails.
    needed = math.ceil((1.0 - _CONFIDENCE) / 2.0 * (total + adjustment) - adjustment - 1e-9)
    if needed <= 0:
        infinite = np.full(diff.shape[0], np.inf)
        return _Inversion(p, -infinite, infinite)
    rise.sort(axis=1)
    fall.sort(axis=1)
    return _Inversion(p, rise[:, needed - 1], fall[:, -needed])


def _all_signs(n: int) -> Iterator[np.ndarray]:
    """All 2**n sign patterns, as batches of ±1 rows."""
    for start, stop in _batches(2**n, n):
        bits = np.arange(start, stop)[:, None] >> np.arange(n) & 1
        yield bits * 2.0 - 1.0


def _random_signs(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """``n_resamples`` random sign patterns, as batches of ±1 rows; each sign is one random bit."""
    rng = np.random.default_rng(seed)
    for start, stop in _batches(n_resamples, n):
        random_bytes = rng.integers(0, 256, size=(stop - start, (n + 7) // 8), dtype=np.uint8)
        yield np.unpackbits(random_bytes, axis=-1, count=n) * 2.0 - 1.0


def _mde(diff: np.ndarray, constant: np.ndarray, *, alpha: float, power: float = 0.8) -> np.ndarray:
    m, n = diff.shape
    if n < 2:
        return np.full(m, math.nan)
    z = float(scipy_stats.norm.ppf(1.0 - alpha / 2.0)) + float(scipy_stats.norm.ppf(power))
    return np.where(constant, 0.0, z * np.std(diff, axis=1, ddof=1) / math.sqrt(n))


# --- wording -------------------------------------------------------------------------------


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
