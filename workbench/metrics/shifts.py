"""Label-free comparisons of two models: how rankings move and how score scales shift.

No relevance judgements are needed, so these work on any query log. Rankings are sequences of
document ids, best first, without repeats.

Example:
    >>> overlap_at_k(["a", "b", "c"], ["b", "a", "d"], 2)
    1.0
    >>> round(rank_biased_overlap(["a", "b", "c"], ["b", "a", "c"], p=0.9), 6)
    0.9
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import chain

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as scipy_stats

from workbench.checks import positive_int
from workbench.errors import InvalidArgumentError

__all__ = [
    "ThresholdTranslation",
    "jaccard_at_k",
    "kendall_tau_shared",
    "ks_distance",
    "moved_documents",
    "overlap_at_k",
    "rank_biased_overlap",
    "rank_shift_table",
    "score_histogram",
    "separation_auc",
    "translate_threshold",
    "translate_thresholds",
]

_SHIFT_COLUMNS = ["overlap", "jaccard", "rbo", "kendall_tau", "n_entered", "n_left"]
_PAIR_CELLS = 4_000_000  # cells of the arrays held at once: (query, depth) or (query, doc, doc)


# --- rank shifts ---------------------------------------------------------------------------


def overlap_at_k(a: Sequence[str], b: Sequence[str], k: int) -> float:
    """Share of the k slots filled by documents both rankings put in their top k.

    A list shorter than k counts its empty slots as misses, so the value stays comparable
    across queries.

    Raises:
        InvalidArgumentError: ``k`` < 1 or a ranking repeats a document.
    """
    top_a, top_b = _top_set(a, k, "a"), _top_set(b, k, "b")
    return len(top_a & top_b) / k


def jaccard_at_k(a: Sequence[str], b: Sequence[str], k: int) -> float:
    """|top-k(a) ∩ top-k(b)| / |top-k(a) ∪ top-k(b)|; 1.0 when both are empty.

    Raises:
        InvalidArgumentError: ``k`` < 1 or a ranking repeats a document.
    """
    top_a, top_b = _top_set(a, k, "a"), _top_set(b, k, "b")
    union = top_a | top_b
    return len(top_a & top_b) / len(union) if union else 1.0


def rank_biased_overlap(a: Sequence[str], b: Sequence[str], *, p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap, RBO_ext (Webber, Moffat and Zobel 2010, eq. 32).

    Agreement at depth d is weighted by p**(d-1), so the top of the rankings dominates:
    with p = 0.9 the first 10 ranks carry about 86% of the weight. For lists of equal depth k
    this is ``X_k/k * p**k + (1-p)/p * sum_d X_d/d * p**d`` with X_d the overlap at depth d;
    a shorter list is extrapolated as the paper describes.

    Args:
        a: First ranking, best first.
        b: Second ranking, best first.
        p: Persistence in (0, 1); higher looks deeper.

    Returns:
        1.0 for identical rankings (or two empty ones), 0.0 for disjoint ones.

    Raises:
        InvalidArgumentError: ``p`` is not in (0, 1) or a ranking repeats a document.
    """
    _check_p(p)
    return float(_rbo(_Matches.of([(_as_ranking(a, "a"), _as_ranking(b, "b"))]), p)[0])


def kendall_tau_shared(a: Sequence[str], b: Sequence[str]) -> float:
    """Kendall's tau between the orders two rankings give their shared documents.

    Says whether documents both models retrieve keep their relative order, independently of
    how many new documents came in. NaN when fewer than two documents are shared. A ranking
    has no ties, so this is tau-a, (concordant - discordant) / pairs, which is also what
    ``scipy.stats.kendalltau`` returns for untied data.

    Raises:
        InvalidArgumentError: A ranking repeats a document.
    """
    return float(_kendall(_Matches.of([(_as_ranking(a, "a"), _as_ranking(b, "b"))]))[0])


def rank_shift_table(
    baseline: Mapping[str, Sequence[str]],
    candidate: Mapping[str, Sequence[str]],
    *,
    k: int,
    p: float = 0.9,
) -> pd.DataFrame:
    """Per-query rank-shift summary between two models, computed on each top k.

    Args:
        baseline: Query id → ranking of the current model.
        candidate: Query id → ranking of the new model.
        k: Depth compared; RBO and Kendall's tau also see only the top k.
        p: RBO persistence in (0, 1).

    Returns:
        Indexed by sorted ``query_id`` (queries present in both), columns overlap, jaccard,
        rbo, kendall_tau (NaN with < 2 shared documents), n_entered (in the candidate's top k
        only) and n_left (in the baseline's top k only).

    Raises:
        InvalidArgumentError: ``k`` < 1 or a ranking repeats a document.
    """
    _check_k(k)
    _check_p(p)
    shared = sorted(set(baseline) & set(candidate))
    tops = [
        (_as_ranking(baseline[qid], "baseline")[:k], _as_ranking(candidate[qid], "candidate")[:k])
        for qid in shared
    ]
    depth = max((max(len(a), len(b)) for a, b in tops), default=1)
    step = max(1, _PAIR_CELLS // max(depth, 1))  # queries at a time: bounded (query × depth) arrays
    parts = [_shift_columns(tops[i : i + step], k, p) for i in range(0, len(tops), step)]
    parts = parts or [_shift_columns([], k, p)]
    columns = {name: np.concatenate([part[name] for part in parts]) for name in _SHIFT_COLUMNS}
    return pd.DataFrame(columns, index=pd.Index(shared, name="query_id", dtype=object))


def moved_documents(baseline_list: Sequence[str], candidate_list: Sequence[str], *, k: int) -> pd.DataFrame:
    """Every document in either top k, with where it was and where it went.

    Args:
        baseline_list: The current model's ranking for one query.
        candidate_list: The new model's ranking for the same query.
        k: Depth of the top lists.

    Returns:
        Columns doc_id; old_rank and new_rank (1-based positions in the full lists, ``<NA>``
        when the document is absent from that list); delta = old_rank - new_rank (positive =
        moved up); status "kept" (in both top k), "entered" (candidate top k only) or "left"
        (baseline top k only). Rows follow the candidate's order, then the documents that left.

    Raises:
        InvalidArgumentError: ``k`` < 1 or a ranking repeats a document.
    """
    _check_k(k)
    old, new = (
        _as_ranking(baseline_list, "baseline_list"),
        _as_ranking(candidate_list, "candidate_list"),
    )
    old_rank = {doc: i + 1 for i, doc in enumerate(old)}
    new_rank = {doc: i + 1 for i, doc in enumerate(new)}
    top_old, top_new = set(old[:k]), set(new[:k])
    docs = new[:k] + [doc for doc in old[:k] if doc not in top_new]
    frame = pd.DataFrame(
        {
            "doc_id": pd.Series(docs, dtype=object),
            "old_rank": pd.array([old_rank.get(doc) for doc in docs], dtype="Int64"),
            "new_rank": pd.array([new_rank.get(doc) for doc in docs], dtype="Int64"),
            "status": [_status(doc, top_old, top_new) for doc in docs],
        }
    )
    frame.insert(3, "delta", frame["old_rank"] - frame["new_rank"])
    return frame


# --- score distributions -------------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdTranslation:
    """A score cutoff carried from the old model's scale to the new one by quantile mapping.

    Attributes:
        old_cutoff: The cutoff in use with the old model.
        share_kept: Fraction of old scores ≥ ``old_cutoff``.
        new_cutoff: The new-model score that keeps the same share of new scores (the smallest
            achievable share not below it); just above the maximum when the share is 0.
        n_old: Number of old scores.
        n_new: Number of new scores.
    """

    old_cutoff: float
    share_kept: float
    new_cutoff: float
    n_old: int
    n_new: int


def score_histogram(
    scores: ArrayLike,
    *,
    bins: int = 40,
    range: tuple[float, float] | None = None,  # named as in numpy.histogram
) -> pd.DataFrame:
    """Histogram of scores, with density so two models of different sizes overlay.

    Args:
        scores: Scores of any shape (flattened), finite.
        bins: Number of equal-width bins, at least 1.
        range: (low, high) of the bins; defaults to the data's min and max. Use the same range
            for two models to compare them bin by bin.

    Returns:
        Columns bin_left, bin_right, count, density (count / (n_in_range * width); integrates
        to 1 over the bins, all 0 when no score falls in the range).

    Raises:
        InvalidArgumentError: Scores are empty or not finite, ``bins`` < 1 or ``range`` is not
            increasing.
    """
    values = _as_scores(scores, "scores")
    bins = positive_int(bins, "bins", example=40)
    if range is not None and not (math.isfinite(range[0]) and range[0] < range[1] < math.inf):
        raise InvalidArgumentError(f"range must be finite (low, high) with low < high, got {range!r}")
    counts, edges = np.histogram(values, bins=bins, range=range)
    total = counts.sum()
    widths = np.diff(edges)
    density = counts / (total * widths) if total else np.zeros_like(widths)
    return pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:], "count": counts, "density": density})


def ks_distance(a: ArrayLike, b: ArrayLike) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value between two score samples.

    The statistic is the largest gap between the two empirical CDFs (0 = same distribution,
    1 = no overlap); a raw-score shift of this size means thresholds must be re-derived.

    Raises:
        InvalidArgumentError: A sample is empty or not finite.
    """
    result = scipy_stats.ks_2samp(_as_scores(a, "a"), _as_scores(b, "b"))
    return float(result.statistic), float(result.pvalue)


def translate_threshold(old_scores: ArrayLike, new_scores: ArrayLike, cutoff: float) -> ThresholdTranslation:
    """Find the new-model cutoff that keeps the same share of results as ``cutoff`` did.

    Scores of two embedding models live on different scales, so a similarity threshold
    (e.g. "show results with score ≥ 0.72") cannot be reused as is. Quantile mapping keeps its
    meaning: the same fraction of (query, document) scores passes before and after.

    Args:
        old_scores: Scores from the old model on a representative sample.
        new_scores: Scores from the new model on the same kind of sample.
        cutoff: Threshold used with the old model.

    Returns:
        The translation; with ``new = old * 0.5`` a cutoff that is one of the old scores maps
        exactly to ``cutoff * 0.5``.

    Raises:
        InvalidArgumentError: A sample is empty or not finite, or ``cutoff`` is not finite.
    """
    old = _as_scores(old_scores, "old_scores")
    new = np.sort(_as_scores(new_scores, "new_scores"))
    return _translate(old, new, cutoff)


def translate_thresholds(old: ArrayLike, new: ArrayLike, cutoffs: Iterable[float]) -> pd.DataFrame:
    """Translate several cutoffs at once; one row per cutoff with the fields of
    :class:`ThresholdTranslation` as columns.

    Raises:
        InvalidArgumentError: A sample is empty or not finite, or a cutoff is not finite.
    """
    old_values = _as_scores(old, "old")
    new_sorted = np.sort(_as_scores(new, "new"))
    rows = [asdict(_translate(old_values, new_sorted, cutoff)) for cutoff in cutoffs]
    columns = list(ThresholdTranslation.__dataclass_fields__)
    return pd.DataFrame(rows, columns=columns)


# --- helpers -------------------------------------------------------------------------------


def _check_k(k: int) -> None:
    k = positive_int(k)


def _check_p(p: float) -> None:
    if not 0.0 < p < 1.0:
        raise InvalidArgumentError(f"p must be in (0, 1), got {p!r}; 0.9 weights the top 10 ranks")


def _as_ranking(ranking: Sequence[str], name: str) -> list[str]:
    docs = list(ranking)
    if len(set(docs)) != len(docs):
        repeated = next(doc for i, doc in enumerate(docs) if doc in docs[:i])
        raise InvalidArgumentError(
            f"ranking {name} lists document {repeated!r} more than once; "
            "deduplicate it keeping the best position"
        )
    return docs


def _top_set(ranking: Sequence[str], k: int, name: str) -> set[str]:
    _check_k(k)
    return set(_as_ranking(ranking, name)[:k])


def _shift_columns(tops: Sequence[tuple[list[str], list[str]]], k: int, p: float) -> dict[str, np.ndarray]:
    """The :func:`rank_shift_table` columns for pairs of top-k lists."""
    matches = _Matches.of(tops)
    n_shared, union = matches.n_shared, matches.n_a + matches.n_b - matches.n_shared
    return {
        "overlap": n_shared / k,
        "jaccard": np.divide(n_shared, union, out=np.ones(len(tops)), where=union > 0),
        "rbo": _rbo(matches, p),
        "kendall_tau": _kendall(matches),
        "n_entered": matches.n_b - n_shared,
        "n_left": matches.n_a - n_shared,
    }


@dataclass(frozen=True)
class _Matches:
    """Where the documents shared by pairs of rankings (a, b) sit, for many pairs at once.

    ``row``, ``pos_a`` and ``pos_b`` have one entry per shared document, grouped by pair and in
    a's order within a pair; ``n_a``, ``n_b`` and ``n_shared`` one entry per pair.
    """

    row: np.ndarray
    pos_a: np.ndarray
    pos_b: np.ndarray
    n_a: np.ndarray
    n_b: np.ndarray
    n_shared: np.ndarray

    @classmethod
    def of(cls, pairs: Sequence[tuple[list[str], list[str]]]) -> _Matches:
        in_a: list[list[int]] = []
        in_b: list[list[int]] = []
        for a, b in pairs:
            position_b = {doc: j for j, doc in enumerate(b)}
            in_a.append([i for i, doc in enumerate(a) if doc in position_b])
            in_b.append([position_b[a[i]] for i in in_a[-1]])
        n_shared = np.array([len(positions) for positions in in_a], dtype=np.int64)
        return cls(
            row=np.repeat(np.arange(len(pairs)), n_shared),
            pos_a=np.fromiter(chain.from_iterable(in_a), dtype=np.int64, count=int(n_shared.sum())),
            pos_b=np.fromiter(chain.from_iterable(in_b), dtype=np.int64, count=int(n_shared.sum())),
            n_a=np.array([len(a) for a, _ in pairs], dtype=np.int64),
            n_b=np.array([len(b) for _, b in pairs], dtype=np.int64),
            n_shared=n_shared,
        )


def _rbo(matches: _Matches, p: float) -> np.ndarray:
    """RBO_ext of every pair: Webber et al. eq. 32 on the overlaps X_1..X_l of each pair.

    X_d counts the shared documents both lists have reached by depth d (all of the shorter
    list past its end), so it is the running count of max(position in a, position in b).
    """
    short, long = np.minimum(matches.n_a, matches.n_b), np.maximum(matches.n_a, matches.n_b)
    width = max(int(long.max(initial=0)), 1)
    reached = matches.row * width + np.maximum(matches.pos_a, matches.pos_b)
    x = np.bincount(reached, minlength=short.size * width).reshape(-1, width).cumsum(axis=1).astype(float)
    depth = np.arange(1, width + 1, dtype=float)
    weights = p**depth
    s, big_l = np.maximum(short, 1)[:, None], np.maximum(long, 1)[:, None]  # 0 is handled below
    rows = np.arange(short.size)[:, None]
    x_s, x_l = x[rows, s - 1], x[rows, big_l - 1]
    observed = np.where(depth <= big_l, x / depth * weights, 0.0).sum(axis=1, keepdims=True)
    tail = (depth > s) & (depth <= big_l)
    extrapolated = np.where(tail, x_s * (depth - s) / (s * depth) * weights, 0.0).sum(axis=1, keepdims=True)
    residual = ((x_l - x_s) / big_l + x_s / s) * p**big_l
    rbo = ((1.0 - p) / p * (observed + extrapolated) + residual)[:, 0]
    return np.where(long == 0, 1.0, np.where(short == 0, 0.0, rbo))


def _kendall(matches: _Matches) -> np.ndarray:
    """Kendall's tau-a of every pair: (concordant - discordant) / pairs of shared documents.

    Shared documents are taken in a's order, so a pair of them is discordant when b ranks the
    second one higher. NaN for fewer than two shared documents.
    """
    n = matches.n_shared
    width = int(n.max(initial=0))
    ranks = np.zeros((n.size, width), dtype=np.int64)
    ranks[matches.row, np.arange(matches.row.size) - np.repeat(np.cumsum(n) - n, n)] = matches.pos_b
    index = np.arange(width)
    valid_later = index < n[:, None]  # per pair, which second documents exist
    discordant = np.zeros(n.size, dtype=np.int64)
    block = max(1, _PAIR_CELLS // max(n.size * width, 1))  # first documents per step: bounded memory
    for start in range(0, width, block):
        first = index[start : start + block]
        worse = ranks[:, first, None] > ranks[:, None, :]
        worse &= index > first[:, None]
        worse &= valid_later[:, None, :]
        discordant += np.count_nonzero(worse, axis=(1, 2))
    pairs = n * (n - 1) // 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n >= 2, (pairs - 2 * discordant) / pairs, math.nan)


def _status(doc: str, top_old: set[str], top_new: set[str]) -> str:
    if doc in top_old and doc in top_new:
        return "kept"
    return "entered" if doc in top_new else "left"


def _as_scores(scores: ArrayLike, name: str) -> np.ndarray:
    values = np.asarray(scores, dtype=float).ravel()
    if values.size == 0:
        raise InvalidArgumentError(f"{name} is empty; pass at least one score")
    if not np.all(np.isfinite(values)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        raise InvalidArgumentError(f"{name} has {bad} NaN or infinite scores; drop them first")
    return values


def _translate(old: np.ndarray, new_sorted: np.ndarray, cutoff: float) -> ThresholdTranslation:
    if not math.isfinite(cutoff):
        raise InvalidArgumentError(f"cutoff must be a finite number, got {cutoff!r}")
    share = float(np.count_nonzero(old >= cutoff)) / old.size
    return ThresholdTranslation(
        old_cutoff=float(cutoff),
        share_kept=share,
        new_cutoff=_cutoff_keeping(new_sorted, share),
        n_old=int(old.size),
        n_new=int(new_sorted.size),
    )


def _cutoff_keeping(new_sorted: np.ndarray, share: float) -> float:
    """Upper ``share`` quantile: the score of the ceil(share * n)-th best new score."""
    n_keep = math.ceil(share * new_sorted.size - 1e-9)
    if n_keep == 0:
        return float(np.nextafter(new_sorted[-1], math.inf))
    return float(new_sorted[new_sorted.size - n_keep])


def separation_auc(relevant: Sequence[float] | np.ndarray, other: Sequence[float] | np.ndarray) -> float:
    """ROC AUC of a score as a relevant-vs-non-relevant classifier (NaN if a side is empty).

    The probability that a random relevant result scores above a random non-relevant one
    (ties count half): 1.0 = some threshold separates them perfectly, 0.5 = no better than
    chance. It answers "can I still threshold this model's scores?" independently of the
    model's scale. Computed from the Mann-Whitney U statistic.
    """
    rel, oth = np.asarray(relevant, dtype=float), np.asarray(other, dtype=float)
    if rel.size == 0 or oth.size == 0:
        return math.nan
    u = scipy_stats.mannwhitneyu(rel, oth, alternative="two-sided").statistic
    return float(u / (rel.size * oth.size))
