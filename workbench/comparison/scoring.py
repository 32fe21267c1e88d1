"""Scoring rankings on an eval set: shared by the leaderboard, the Matryoshka sweep and adapters.

A decision needs enough judged queries for its statistics; :func:`require_judged` refuses an
eval set with fewer than :data:`MIN_JUDGED_QUERIES`, naming the minimum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbench.errors import InvalidArgumentError
from workbench.metrics.labelled import parse_metric, per_query_metrics
from workbench.store.evalsets import EvalSet

__all__ = ["MIN_JUDGED_QUERIES", "check_metrics", "depth_of", "require_judged", "score", "top_k_overlap"]

MIN_JUDGED_QUERIES = 10
"""Fewest judged queries for a bootstrap interval and a paired test that mean anything."""


def require_judged(eval_set: EvalSet, *, minimum: int = MIN_JUDGED_QUERIES) -> list[str]:
    """The judged query ids, or an error saying how many there are and how many are needed.

    Raises:
        InvalidArgumentError: fewer than ``minimum`` queries with a relevant judgement.
    """
    judged = eval_set.judged_queries
    if len(judged) < minimum:
        raise InvalidArgumentError(
            f"eval set {eval_set.name!r} has {len(judged)} judged queries; confidence intervals and "
            f"paired tests need at least {minimum}. Add judged queries (qrels with grade > 0)."
        )
    return judged


def check_metrics(metrics: Sequence[str]) -> list[str]:
    """Canonical, unique metric names (``ndcg@10``); an empty list is refused."""
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise InvalidArgumentError("metrics is empty; give names such as ndcg@10,recall@100")
    canonical = [f"{family}@{k}" for family, k in map(parse_metric, names)]
    if len(set(canonical)) != len(canonical):
        raise InvalidArgumentError(f"metric names must be unique, got {', '.join(canonical)}")
    return canonical


def depth_of(metrics: Sequence[str]) -> int:
    """How many documents per query the metrics need."""
    return max(parse_metric(m)[1] for m in metrics)


def score(rankings: pd.DataFrame, eval_set: EvalSet, metrics: Sequence[str]) -> pd.DataFrame:
    """Per-query metrics (pytrec_eval) of ``query_id, doc_id, score`` rankings on the judged queries."""
    judged = eval_set.judged_queries
    qrels = {q: eval_set.qrels[q] for q in judged}
    frame = rankings[rankings["query_id"].isin(set(judged))]
    run: dict[str, dict[str, float]] = {q: {} for q in judged}
    for qid, doc, value in zip(frame["query_id"], frame["doc_id"], frame["score"], strict=True):
        run[str(qid)][str(doc)] = float(value)
    return per_query_metrics(run, qrels, list(metrics))


def top_k_overlap(first: pd.DataFrame, second: pd.DataFrame, *, k: int) -> float:
    """Mean share of the top ``k`` two rankings of the same queries have in common (label-free)."""
    a = first[first["rank"] <= k].groupby("query_id")["doc_id"].apply(set)
    b = second[second["rank"] <= k].groupby("query_id")["doc_id"].apply(set)
    shared = [len(a[q] & b.get(q, set())) / k for q in a.index]
    return float(np.mean(shared)) if shared else float("nan")
