"""Confidence intervals of a mean metric, one per column, for tables of candidates.

A leaderboard shows each candidate's own mean with its 95% bootstrap (BCa) interval; the
paired differences between candidates are :mod:`workbench.metrics.paired`'s job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["mean_intervals"]


def mean_intervals(frame: pd.DataFrame, *, n_resamples: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Mean and 95% BCa bootstrap interval of every column (a per-query metric frame).

    A constant column gets the interval ``[mean, mean]``; fewer than two values give NaN bounds.

    Example:
        >>> frame = pd.DataFrame({"ndcg@10": [0.1, 0.5, 0.9, 0.4]})
        >>> round(mean_intervals(frame).loc["ndcg@10", "mean"], 2)
        0.47
    """
    rows = {}
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=float)
        mean = float(values.mean()) if values.size else float("nan")
        if values.size < 2:
            low = high = float("nan")
        elif np.ptp(values) == 0:
            low = high = mean
        else:
            result = stats.bootstrap(
                (values,), np.mean, n_resamples=n_resamples, method="BCa", rng=np.random.default_rng(seed)
            )
            low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        rows[name] = {"mean": mean, "ci_low": low, "ci_high": high, "n": int(values.size)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["mean", "ci_low", "ci_high", "n"])
