"""Paired statistics per segment of an eval set's queries (language, topic, query length, ...).

An average hides where a model fails: a candidate better overall can be worse on the German
queries. Each segment gets the paired statistics of :mod:`workbench.metrics.paired` on its own
queries, and because many segments are tested at once, each metric's p-values are
Holm-adjusted across all the segments (:func:`workbench.metrics.multiple.holm`), so one segment
of twenty falling under 0.05 by chance is controlled.

Segments come from the queries' metadata (``queries.jsonl``: ``"metadata": {"language": "de"}``)
or, without metadata, automatically: by query length in words and by the baseline's top-1
similarity score (how sure the current model was), each cut into terciles.

Example:
    >>> base = pd.DataFrame({"ndcg@10": [0.2, 0.4, 0.5, 0.9]}, index=["a", "b", "c", "d"])
    >>> cand = pd.DataFrame({"ndcg@10": [0.3, 0.5, 0.4, 0.8]}, index=["a", "b", "c", "d"])
    >>> lang = pd.Series({"a": "en", "b": "en", "c": "de", "d": "de"})
    >>> segment_deltas(base, cand, {"language": lang})[["segment", "n", "delta"]].round(3).values.tolist()
    [['de', 2, -0.1], ['en', 2, 0.1]]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict

import numpy as np
import pandas as pd

from workbench.metrics.multiple import holm
from workbench.metrics.paired import paired_deltas

__all__ = [
    "AUTOMATIC_KEYS",
    "SEGMENT_COLUMNS",
    "automatic_segments",
    "segment_column",
    "segment_deltas",
    "segments_from_records",
]

SEGMENT_COLUMNS = [
    "key",
    "segment",
    "metric",
    "n",
    "baseline",
    "candidate",
    "delta",
    "ci_low",
    "ci_high",
    "p_permutation",
    "p_holm",
    "wins",
    "ties",
    "losses",
]
"""One row per (key, segment, metric); ``p_holm`` is adjusted over every segment of the metric."""

AUTOMATIC_KEYS = ("length", "baseline_score")
"""The segment keys made when the queries carry no metadata."""

_PREFIX = "segment:"


def segment_column(key: str) -> str:
    """The per-query column holding a query's segment for ``key`` (``segment:language``)."""
    return f"{_PREFIX}{key}"


def segment_deltas(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    segments: Mapping[str, pd.Series],
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired deltas of every metric within every segment, with Holm-adjusted p across segments.

    Args:
        baseline: Per-query metric values of the current model (index: query id, one column
            per metric), as :func:`workbench.metrics.labelled.per_query_metrics` returns.
        candidate: The new model's values, same queries and metrics.
        segments: Segment key → Series mapping query id to its segment value; a query
            missing from a key's Series (or NaN there) is in no segment of that key.
        n_resamples: Resamples of the sign-flip test.
        seed: Seed of the test, as in :func:`workbench.metrics.paired.paired_deltas`.

    Returns:
        :data:`SEGMENT_COLUMNS`, sorted by key and segment, metrics in column order; empty
        (with those columns) when there are no segments or no queries.
    """
    rows: list[dict[str, object]] = []
    for key, values in segments.items():
        assigned = values.dropna().astype(str)
        assigned = assigned[assigned.index.isin(baseline.index)]
        for segment in sorted(assigned.unique(), key=_natural):
            ids = assigned.index[assigned == segment]
            stats = paired_deltas(baseline.loc[ids], candidate.loc[ids], n_resamples=n_resamples, seed=seed)
            for metric, s in stats.items():
                row = asdict(s)
                row.update(key=key, segment=segment, metric=metric)
                row["baseline"], row["candidate"] = row.pop("baseline_mean"), row.pop("candidate_mean")
                rows.append(row)
    frame = pd.DataFrame(rows, columns=[*SEGMENT_COLUMNS, "p_ttest", "mde"])
    frame["p_holm"] = np.nan
    for _metric, group in frame.groupby("metric", sort=False):
        frame.loc[group.index, "p_holm"] = holm(group["p_permutation"].to_numpy(dtype=float))
    return frame[SEGMENT_COLUMNS].astype({"n": "int64", "wins": "int64", "ties": "int64", "losses": "int64"})


def segments_from_records(records: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """Stored segment rows (JSON records, ``None`` for a non-finite number) as a typed frame."""
    frame = pd.DataFrame(list(records), columns=SEGMENT_COLUMNS)
    for column in ("baseline", "candidate", "delta", "ci_low", "ci_high", "p_permutation", "p_holm"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("n", "wins", "ties", "losses"):
        frame[column] = pd.to_numeric(frame[column]).astype("int64")
    return frame


def _natural(text: str) -> list[tuple[int, str]]:
    """Sort key putting ``"8–10 words"`` before ``"11–12 words"``."""
    return [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"(\d+)", text)]


def automatic_segments(queries: Mapping[str, str], top_scores: pd.Series) -> dict[str, pd.Series]:
    """Segments for queries without metadata: length in words and the baseline's top-1 score.

    Each is cut into terciles (fewer when values repeat too much to cut three ways), labelled
    with their range so a reader knows what "short" means here: ``"1–4 words"``,
    ``"score 0.31–0.45"``.

    Args:
        queries: Query id → text.
        top_scores: Query id → the baseline's highest similarity score for that query.
    """
    ids = sorted(queries)
    words = pd.Series([len(queries[q].split()) for q in ids], index=ids, dtype=float)
    scores = top_scores.reindex(ids).astype(float)
    return {
        "length": _terciles(words, lambda lo, hi: f"{_span(lo, hi, '.0f')} words"),
        "baseline_score": _terciles(scores, lambda lo, hi: f"score {_span(lo, hi, '.2f')}"),
    }


def _span(low: float, high: float, spec: str) -> str:
    return format(low, spec) if format(low, spec) == format(high, spec) else f"{low:{spec}}–{high:{spec}}"


def _terciles(values: pd.Series, label: object) -> pd.Series:
    """Each value's tercile, labelled by the range of values that fell into it."""
    known = values.dropna()
    if known.empty:
        return pd.Series(dtype=object)
    if known.nunique() == 1:
        codes = pd.Series(0, index=known.index)
    else:
        codes = pd.qcut(known.rank(method="min"), 3, labels=False, duplicates="drop")
    names = {}
    for code in pd.unique(codes):
        inside = known[codes == code]
        names[code] = label(inside.min(), inside.max())  # type: ignore[operator]
    return codes.map(names).astype(object)
