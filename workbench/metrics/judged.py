"""Judged@k: how much of a ranking the qrels can speak about.

Qrels are usually pooled from the old system's results, so a document the new model surfaces
may simply never have been judged — and every IR metric counts it as not relevant. Judged@k
(the share of a top k that has a judgement of any grade, 0 included) says how far the metrics
of each side can be trusted; a candidate whose judged@k is well below the baseline's is being
scored on holes, not on evidence (Buckley & Voorhees 2004; Sakai 2007; ``judged@k`` in ir_measures).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "GAP_WARNING",
    "Qrels",
    "judged_at_k",
    "judged_gap_warning",
    "mean_judged",
]

Qrels = Mapping[str, Mapping[str, int]]

GAP_WARNING = 0.10
"""Warn when the candidate's mean judged@k is this much (absolute) below the baseline's."""


def judged_at_k(rankings: Mapping[str, Sequence[str]], qrels: Qrels, *, k: int) -> dict[str, float]:
    """Per query: the share of its top ``k`` documents that have a judgement (any grade).

    A query with no judgements at all gets NaN: nothing can be said about its ranking. A top
    list shorter than ``k`` (a tiny corpus) is measured on what it has.
    """
    shares: dict[str, float] = {}
    for qid, docs in rankings.items():
        judged = qrels.get(qid)
        top = list(docs)[:k]
        if not judged or not top:
            shares[qid] = math.nan
            continue
        shares[qid] = sum(1 for d in top if d in judged) / len(top)
    return shares


def mean_judged(shares: Sequence[float]) -> float:
    """Mean judged@k over the queries that have judgements (NaN when none has)."""
    values = np.asarray(shares, dtype=float)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def judged_gap_warning(baseline: Sequence[float], candidate: Sequence[float], *, k: int) -> str | None:
    """A warning when the candidate's mean judged@k is much lower than the baseline's, else None."""
    base, cand = mean_judged(baseline), mean_judged(candidate)
    if math.isnan(base) or math.isnan(cand) or base - cand < GAP_WARNING:
        return None
    return (
        f"judged@{k}: only {cand:.0%} of the candidate's top {k} has a judgement, against {base:.0%} "
        "of the baseline's — the qrels were probably pooled from the old system, so the candidate's "
        "metrics count unjudged documents as misses; judge them (Compare → per-query drill-down, "
        "or `workbench judge export`) and re-run the comparison"
    )
