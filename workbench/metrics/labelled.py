"""Labelled retrieval metrics per query, computed with pytrec_eval.

Metrics come from pytrec_eval (trec_eval's C code), never from hand-written formulas, so our
numbers are the numbers the field reports. Names follow the ``name@k`` form (``ndcg@10``).

Example:
    >>> run = {"q1": {"d1": 2.0, "d2": 1.0}}
    >>> qrels = {"q1": {"d2": 1}}
    >>> per_query_metrics(run, qrels, ["mrr@10", "hit_rate@1"]).loc["q1"].tolist()
    [0.5, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal, TypeAlias, get_args

import numpy as np
import pandas as pd
import pytrec_eval

from workbench.checks import positive_int
from workbench.errors import InvalidArgumentError

__all__ = [
    "MetricFamily",
    "Qrels",
    "Run",
    "metric_label",
    "parse_metric",
    "per_query_metrics",
    "truncate_run",
]

Run: TypeAlias = dict[str, dict[str, float]]
"""Query id → document id → score; higher is better."""

Qrels: TypeAlias = dict[str, dict[str, int]]
"""Query id → document id → graded judgement; a grade ≤ 0 is non-relevant."""

MetricFamily = Literal["ndcg", "recall", "mrr", "map", "precision", "hit_rate"]

_FAMILIES: tuple[str, ...] = get_args(MetricFamily)
_ALLOWED = ", ".join(f"{family}@k" for family in _FAMILIES)
_LABELS: dict[str, str] = {
    "ndcg": "nDCG",
    "recall": "Recall",
    "mrr": "MRR",
    "map": "MAP",
    "precision": "P",
    "hit_rate": "HitRate",
}
# trec_eval measures that take their cutoff as a parameter ("ndcg_cut.10" → "ndcg_cut_10").
_CUT_MEASURES: dict[str, str] = {
    "ndcg": "ndcg_cut",
    "recall": "recall",
    "precision": "P",
    "map": "map_cut",
    "hit_rate": "success",
}
_HAS_SUCCESS = "success" in pytrec_eval.supported_measures


def parse_metric(name: str) -> tuple[MetricFamily, int]:
    """Split a metric name such as ``"ndcg@10"`` into its family and cutoff.

    Args:
        name: ``family@k`` with family one of ndcg, recall, mrr, map, precision, hit_rate
            (case-insensitive) and k a positive integer.

    Returns:
        The lower-case family and the cutoff k.

    Raises:
        InvalidArgumentError: The family is unknown or k is not a positive integer.
    """
    family, sep, cutoff = str(name).strip().lower().partition("@")
    if not sep or family not in _FAMILIES:
        raise InvalidArgumentError(
            f"unknown metric {name!r}; allowed: {_ALLOWED} with an integer k >= 1, e.g. 'ndcg@10'"
        )
    try:
        k = int(cutoff)
    except ValueError:
        k = 0
    if k <= 0:
        raise InvalidArgumentError(
            f"metric {name!r} needs an integer cutoff k >= 1 after '@', e.g. '{family}@10'"
        )
    return family, k  # type: ignore[return-value]  # family was checked against _FAMILIES


def per_query_metrics(run: Run, qrels: Qrels, metrics: Sequence[str]) -> pd.DataFrame:
    """Compute metrics for every judged query with pytrec_eval.

    A query counts as judged when ``qrels`` holds at least one grade > 0 for it; other queries
    are excluded because no ranking can score on them. A judged query that the run misses (or
    answers with no documents) scores 0.0 instead of silently dropping out of the mean.

    Ties in score are broken the way trec_eval breaks them (on the score as a 32-bit float,
    then by document id descending), so cutting a run to its top k never changes a number.

    Args:
        run: Query id → document id → score (higher is better).
        qrels: Query id → document id → grade; nDCG uses the grades as gains.
        metrics: Names such as ``["ndcg@10", "recall@100", "mrr@10"]``.

    Returns:
        One float column per metric, in the order given, indexed by sorted ``query_id``.

    Raises:
        InvalidArgumentError: A metric name is unknown or repeated, the list is empty, a grade is
            not an integer or a score is NaN.
    """
    parsed = _parse_metrics(metrics)
    judged = _judged_qrels(qrels)
    clean_run = _clean_run(run, judged)
    index = pd.Index(sorted(judged), name="query_id", dtype=object)
    frame = pd.DataFrame(index=index)
    values = _trec_values(clean_run, judged, parsed)
    for name, key in zip(metrics, parsed, strict=True):
        frame[name] = pd.Series(values[key], dtype=float).reindex(index, fill_value=0.0)
    return frame


def _parse_metrics(metrics: Sequence[str]) -> list[tuple[MetricFamily, int]]:
    if isinstance(metrics, str) or not metrics:
        raise InvalidArgumentError(
            f"metrics must be a non-empty list of names such as ['ndcg@10'], got {metrics!r}"
        )
    repeated = sorted({m for m in metrics if list(metrics).count(m) > 1})
    if repeated:
        raise InvalidArgumentError(f"metric names must be unique, repeated: {repeated}")
    return [parse_metric(name) for name in metrics]


def _judged_qrels(qrels: Qrels) -> dict[str, dict[str, int]]:
    """Keep queries with at least one grade > 0, with grades as plain ints for pytrec_eval."""
    judged: dict[str, dict[str, int]] = {}
    for qid, grades in qrels.items():
        clean = {str(doc): _as_grade(qid, doc, grade) for doc, grade in grades.items()}
        if any(grade > 0 for grade in clean.values()):
            judged[str(qid)] = clean
    return judged


def _as_grade(qid: str, doc: str, grade: object) -> int:
    try:
        value = float(grade)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if not value.is_integer():
        raise InvalidArgumentError(
            f"qrels grade for query {qid!r}, document {doc!r} is {grade!r}; grades must be "
            "integers (0 or less = non-relevant, higher = more relevant)"
        )
    return int(value)


def _clean_run(run: Run, judged: Mapping[str, object]) -> dict[str, dict[str, float]]:
    """Keep judged queries that have results, with scores as plain floats."""
    clean: dict[str, dict[str, float]] = {}
    for qid, docs in run.items():
        if str(qid) not in judged or not docs:
            continue
        scores = {str(doc): float(score) for doc, score in docs.items()}
        if any(math.isnan(score) for score in scores.values()):
            raise InvalidArgumentError(f"run scores for query {qid!r} contain NaN; rank order is undefined")
        clean[str(qid)] = scores
    return clean


def _trec_values(
    run: Run, qrels: Qrels, parsed: Sequence[tuple[MetricFamily, int]]
) -> dict[tuple[MetricFamily, int], dict[str, float]]:
    """Per-query values of each (family, k) for the queries present in ``run``."""
    if not run:
        return {key: {} for key in parsed}
    values = _cut_values(run, qrels, [key for key in parsed if _is_cut(key[0])])
    for family, k in parsed:
        if not _is_cut(family):
            # pytrec_eval ranks each query itself, so a query with k documents or fewer is kept as is.
            top = {qid: docs if len(docs) <= k else _top_k(docs, k) for qid, docs in run.items()}
            values[family, k] = _hit_rate(top, qrels) if family == "hit_rate" else _rr(top, qrels)
    return values


def _is_cut(family: MetricFamily) -> bool:
    """Whether trec_eval computes the metric at a cutoff itself (all but MRR)."""
    return family in _CUT_MEASURES and (family != "hit_rate" or _HAS_SUCCESS)


def _cut_values(
    run: Run, qrels: Qrels, keys: Sequence[tuple[MetricFamily, int]]
) -> dict[tuple[MetricFamily, int], dict[str, float]]:
    """One pytrec_eval pass for every cutoff measure ("ndcg_cut.5,10" → ndcg_cut_5, _10)."""
    if not keys:
        return {}
    cutoffs: dict[str, set[int]] = {}
    for family, k in keys:
        cutoffs.setdefault(_CUT_MEASURES[family], set()).add(k)
    measures = {f"{m}.{','.join(map(str, sorted(ks)))}" for m, ks in cutoffs.items()}
    result = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    return {
        (family, k): {qid: float(v[f"{_CUT_MEASURES[family]}_{k}"]) for qid, v in result.items()}
        for family, k in keys
    }


def _rr(run: Run, qrels: Qrels) -> dict[str, float]:
    result = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run)
    return {qid: float(values["recip_rank"]) for qid, values in result.items()}


def _hit_rate(run: Run, qrels: Qrels) -> dict[str, float]:
    return {qid: float(any(qrels[qid].get(doc, 0) > 0 for doc in docs)) for qid, docs in run.items()}


def truncate_run(run: Run, k: int) -> Run:
    """Keep each query's top ``k`` documents in trec_eval's rank order.

    trec_eval stores scores as 32-bit floats and breaks ties by document id descending, so the
    same ordering is used here; anything else could keep a different document at rank k.

    Args:
        run: Query id → document id → score.
        k: Documents to keep per query, at least 1.

    Returns:
        A new run with at most ``k`` documents per query (original scores kept).

    Raises:
        InvalidArgumentError: ``k`` < 1.
    """
    k = positive_int(k)
    return {qid: _top_k(docs, k) for qid, docs in run.items()}


def _top_k(docs: Mapping[str, float], k: int) -> dict[str, float]:
    keys = np.asarray(list(docs.values()), dtype=np.float32).tolist()
    # Same order as heapq.nlargest; sorting in C is faster here, where k is near len(docs).
    top = sorted(zip(keys, docs, strict=True), reverse=True)[:k]
    return {doc: docs[doc] for _, doc in top}


def metric_label(metric: str) -> str:
    """``ndcg@10`` → ``nDCG@10``; unknown names are returned as they are."""
    try:
        family, k = parse_metric(metric)
    except InvalidArgumentError:
        return metric
    return f"{_LABELS[family]}@{k}"
