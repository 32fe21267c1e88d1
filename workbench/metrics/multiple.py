"""Multiple-comparison corrections for families of paired tests.

When twelve metrics (or every pair of N models) are tested at once, some p-values fall under
0.05 by chance. Holm's step-down method controls the family-wise error rate without assuming
independence and is uniformly more powerful than Bonferroni.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_PRIMARY", "adjusted_p", "holm"]


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values, in the input order (NaN stays NaN and is not counted).

    Example:
        >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    if finite.size == 0:
        return adjusted
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    scaled = p[order] * (m - np.arange(m))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


#: The metric a verdict rests on unless the gate names another (``gate.toml`` ``primary``).
DEFAULT_PRIMARY = "ndcg@10"


def adjusted_p(deltas: pd.DataFrame, *, primary: str | None = DEFAULT_PRIMARY) -> pd.Series:
    """The p-value each metric of a comparison should be judged by: the pre-registered primary
    metric's own ``p_permutation``, the others Holm-adjusted as one family.

    The primary metric is decided on its own (it is the one question asked in advance); the
    others are many questions asked at once, so one of twelve falling under 0.05 by chance is
    controlled. Without a primary among the metrics, all are one Holm family.

    Args:
        deltas: Indexed by metric, with a ``p_permutation`` column (``Comparison.deltas``).
        primary: The gate's primary metric.

    Returns:
        Adjusted p-values, indexed like ``deltas``.

    Example:
        >>> metrics = ["ndcg@10", "mrr@10", "recall@100"]
        >>> frame = pd.DataFrame({"p_permutation": [0.03, 0.01, 0.04]}, index=metrics)
        >>> adjusted_p(frame).round(3).tolist()
        [0.03, 0.02, 0.04]
    """
    p = deltas["p_permutation"].astype(float)
    others = p.index != primary
    adjusted = p.copy()
    adjusted[others] = holm(p[others].to_numpy())
    return adjusted
