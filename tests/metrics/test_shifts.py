"""Tests for workbench.metrics.shifts: rank-shift measures and score-distribution tools."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from workbench.errors import InvalidArgumentError
from workbench.metrics import shifts
from workbench.metrics.shifts import (
    ThresholdTranslation,
    jaccard_at_k,
    kendall_tau_shared,
    ks_distance,
    moved_documents,
    overlap_at_k,
    rank_biased_overlap,
    rank_shift_table,
    score_histogram,
    translate_threshold,
    translate_thresholds,
)

ABC = ["a", "b", "c"]


def rbo_equal_depth(a: list[str], b: list[str], p: float) -> float:
    """The equal-depth RBO_ext formula written out directly from set intersections."""
    k = len(a)
    x = [len(set(a[:d]) & set(b[:d])) for d in range(1, k + 1)]
    head = sum(x[d - 1] / d * p**d for d in range(1, k + 1))
    return x[-1] / k * p**k + (1 - p) / p * head


# --- overlap and jaccard -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "k", "overlap", "jaccard"),
    [
        (ABC, ABC, 3, 1.0, 1.0),
        (ABC, ["c", "b", "a"], 3, 1.0, 1.0),
        (ABC, ["b", "a", "x"], 2, 1.0, 1.0),
        (ABC, ["b", "x", "a"], 2, 0.5, 1 / 3),
        (ABC, ["x", "y", "z"], 3, 0.0, 0.0),
        (["a"], ["a"], 5, 0.2, 1.0),  # short lists: empty slots are misses for overlap
        ([], [], 3, 0.0, 1.0),
    ],
)
def test_overlap_and_jaccard(a: list[str], b: list[str], k: int, overlap: float, jaccard: float) -> None:
    assert overlap_at_k(a, b, k) == pytest.approx(overlap)
    assert jaccard_at_k(a, b, k) == pytest.approx(jaccard)


@pytest.mark.parametrize("func", [overlap_at_k, jaccard_at_k])
@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_overlap_and_jaccard_refuse_bad_k(func: object, k: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"k must be a positive integer, got"):
        func(ABC, ABC, k)  # type: ignore[operator]


@pytest.mark.parametrize("func", [overlap_at_k, jaccard_at_k])
def test_overlap_and_jaccard_refuse_repeated_documents(func: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"ranking b lists document 'a' more than once"):
        func(ABC, ["a", "b", "a"], 2)  # type: ignore[operator]


# --- rank-biased overlap -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "p", "expected"),
    [
        (ABC, ABC, 0.9, 1.0),
        (ABC, ["x", "y", "z"], 0.9, 0.0),
        # X = (0, 2, 3): (1-p)/p * (0 + 1*0.81 + 1*0.729) + 1*0.729 = 0.171 + 0.729
        (ABC, ["b", "a", "c"], 0.9, 0.9),
        # X = (1, 1, 1): (1/9) * (0.9 + 0.405 + 0.243) + (1/3) * 0.729 = 0.172 + 0.243
        (ABC, ["a", "d", "e"], 0.9, 0.415),
        # X = (0, 0, 1): (1) * (1/3 * 0.125) + (1/3) * 0.125 with p = 0.5
        (ABC, ["x", "y", "a"], 0.5, 1 / 24 + 1 / 24),
        (["a"], ["a"], 0.1, 1.0),
        (ABC, ["a", "b"], 0.9, 1.0),  # a prefix extrapolates to full agreement
        ([], [], 0.9, 1.0),
        (ABC, [], 0.9, 0.0),
    ],
)
def test_rbo_hand_values(a: list[str], b: list[str], p: float, expected: float) -> None:
    assert rank_biased_overlap(a, b, p=p) == pytest.approx(expected, abs=1e-12)
    assert rank_biased_overlap(b, a, p=p) == pytest.approx(expected, abs=1e-12)


def test_rbo_uneven_lists_follow_the_extrapolation() -> None:
    # S = [a, x], L = [b, a, c]: X_1 = 0, X_2 = 1 (a), X_3 = 1; s = 2, l = 3, p = 0.9.
    observed = 0 + (1 / 2) * 0.81 + (1 / 3) * 0.729
    extrapolated = 1 * (3 - 2) / (2 * 3) * 0.729
    residual = ((1 - 1) / 3 + 1 / 2) * 0.729
    expected = (0.1 / 0.9) * (observed + extrapolated) + residual
    assert rank_biased_overlap(["a", "x"], ["b", "a", "c"]) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_rbo_matches_the_equal_depth_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = [f"d{i}" for i in range(30)]
    a = list(rng.choice(pool, size=20, replace=False))
    b = list(rng.choice(pool, size=20, replace=False))
    for p in (0.5, 0.9, 0.98):
        assert rank_biased_overlap(a, b, p=p) == pytest.approx(rbo_equal_depth(a, b, p), abs=1e-12)


def test_rbo_weights_the_top_more_than_the_bottom() -> None:
    ranking = [f"d{i}" for i in range(10)]
    swap_top = ["d1", "d0", *ranking[2:]]
    swap_bottom = [*ranking[:8], "d9", "d8"]
    assert rank_biased_overlap(ranking, swap_top) < rank_biased_overlap(ranking, swap_bottom) < 1


@pytest.mark.parametrize("p", [0.0, 1.0, -0.5, 1.5, math.nan])
def test_rbo_refuses_p_outside_open_unit_interval(p: float) -> None:
    with pytest.raises(InvalidArgumentError, match=r"p must be in \(0, 1\), got"):
        rank_biased_overlap(ABC, ABC, p=p)


def test_rbo_refuses_repeated_documents() -> None:
    with pytest.raises(InvalidArgumentError, match=r"ranking a lists document 'b' more than once"):
        rank_biased_overlap(["a", "b", "b"], ABC)


# --- Kendall's tau -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (ABC, ABC, 1.0),
        (ABC, ["c", "b", "a"], -1.0),
        (["a", "b", "c", "d"], ["x", "a", "y", "b"], 1.0),  # new documents do not count
        (["a", "b", "c"], ["b", "x", "a", "c"], 1 / 3),  # one discordant pair out of three
    ],
)
def test_kendall_tau_on_shared_documents(a: list[str], b: list[str], expected: float) -> None:
    assert kendall_tau_shared(a, b) == pytest.approx(expected)


@pytest.mark.parametrize(("a", "b"), [(ABC, ["a", "x"]), (ABC, ["x", "y"]), ([], [])])
def test_kendall_tau_is_nan_with_fewer_than_two_shared(a: list[str], b: list[str]) -> None:
    assert math.isnan(kendall_tau_shared(a, b))


def test_kendall_tau_refuses_repeated_documents() -> None:
    with pytest.raises(InvalidArgumentError, match=r"ranking b lists document 'c' more than once"):
        kendall_tau_shared(ABC, ["c", "c"])


def random_rankings(rng: np.random.Generator, pool: int, longest: int) -> tuple[list[str], list[str]]:
    """Two rankings drawn from the same pool of documents, of random lengths (possibly empty)."""
    docs = [f"d{i}" for i in range(pool)]
    a, b = (rng.permutation(docs)[: rng.integers(0, longest + 1)].tolist() for _ in range(2))
    return a, b


@pytest.mark.parametrize("seed", range(5))
def test_kendall_tau_equals_scipys_on_random_rankings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        a, b = random_rankings(rng, pool=int(rng.integers(1, 40)), longest=30)
        rank_b = {doc: rank for rank, doc in enumerate(b)}
        shared = [(rank, rank_b[doc]) for rank, doc in enumerate(a) if doc in rank_b]
        tau = kendall_tau_shared(a, b)
        if len(shared) < 2:
            assert math.isnan(tau)
        else:
            expected = scipy_stats.kendalltau(*zip(*shared, strict=True)).statistic
            assert tau == pytest.approx(expected, abs=1e-12)


def test_kendall_tau_of_long_rankings_is_counted_in_bounded_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shifts, "_PAIR_CELLS", 5_000)  # force many blocks of first documents
    rng = np.random.default_rng(9)
    a = [f"d{i}" for i in rng.permutation(1_500)]
    b = [f"d{i}" for i in rng.permutation(1_500)][:1_200]
    rank_b = {doc: rank for rank, doc in enumerate(b)}
    shared = [(rank, rank_b[doc]) for rank, doc in enumerate(a) if doc in rank_b]
    expected = scipy_stats.kendalltau(*zip(*shared, strict=True)).statistic
    assert kendall_tau_shared(a, b) == pytest.approx(expected, abs=1e-12)


# --- rank_shift_table ----------------------------------------------------------------------


def test_rank_shift_table_rows_and_columns() -> None:
    baseline = {"q2": ["a", "b"], "q1": ["a", "b", "c", "d"], "only_old": ["x"]}
    candidate = {"q1": ["b", "x", "a", "c"], "q2": ["a", "b"], "only_new": ["y"]}
    table = rank_shift_table(baseline, candidate, k=3)
    assert table.index.name == "query_id"
    assert list(table.index) == ["q1", "q2"]
    assert list(table.columns) == [
        "overlap",
        "jaccard",
        "rbo",
        "kendall_tau",
        "n_entered",
        "n_left",
    ]
    q1 = table.loc["q1"]
    assert q1["overlap"] == pytest.approx(2 / 3)
    assert q1["jaccard"] == pytest.approx(2 / 4)
    # Top 3: [a, b, c] vs [b, x, a]; X = (0, 1, 2).
    assert q1["rbo"] == pytest.approx((0.1 / 0.9) * (0.405 + 0.486) + 0.486)
    assert q1["kendall_tau"] == pytest.approx(-1.0)  # a above b, then b above a
    assert (q1["n_entered"], q1["n_left"]) == (1, 1)
    assert table.loc["q2"].tolist() == pytest.approx([2 / 3, 1.0, 1.0, 1.0, 0, 0])
    assert table["n_entered"].dtype == np.int64


@pytest.mark.parametrize(("k", "p"), [(1, 0.9), (5, 0.5), (10, 0.9), (40, 0.98)])
def test_rank_shift_table_rows_equal_the_per_query_measures(k: int, p: float) -> None:
    rng = np.random.default_rng(k)
    pairs = [random_rankings(rng, pool=int(rng.integers(1, 50)), longest=45) for _ in range(60)]
    baseline = {f"q{i}": a for i, (a, _) in enumerate(pairs)}
    candidate = {f"q{i}": b for i, (_, b) in enumerate(pairs)}
    table = rank_shift_table(baseline, candidate, k=k, p=p)
    for qid, row in table.iterrows():
        a, b = baseline[str(qid)][:k], candidate[str(qid)][:k]
        expected = [
            overlap_at_k(a, b, k),
            jaccard_at_k(a, b, k),
            rank_biased_overlap(a, b, p=p),
            kendall_tau_shared(a, b),
            len(set(b) - set(a)),
            len(set(a) - set(b)),
        ]
        assert row.tolist() == pytest.approx(expected, abs=1e-12, nan_ok=True), qid
    assert table.dtypes.tolist() == [np.float64] * 4 + [np.int64] * 2


def test_rank_shift_table_in_bounded_steps_equals_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(21)
    pairs = [random_rankings(rng, pool=30, longest=25) for _ in range(30)]
    baseline = {f"q{i:02d}": a for i, (a, _) in enumerate(pairs)}
    candidate = {f"q{i:02d}": b for i, (_, b) in enumerate(pairs)}
    whole = rank_shift_table(baseline, candidate, k=20)
    monkeypatch.setattr(shifts, "_PAIR_CELLS", 50)  # two or three queries per step
    pd.testing.assert_frame_equal(rank_shift_table(baseline, candidate, k=20), whole)


def test_rank_shift_table_refuses_repeats_beyond_the_top_k() -> None:
    with pytest.raises(InvalidArgumentError, match=r"ranking candidate lists document 'x' more than once"):
        rank_shift_table({"q": ABC}, {"q": ["a", "x", "b", "x"]}, k=2)


def test_rank_shift_table_without_shared_queries_is_empty() -> None:
    table = rank_shift_table({"a": ["x"]}, {"b": ["x"]}, k=10)
    assert table.empty
    assert list(table.columns) == [
        "overlap",
        "jaccard",
        "rbo",
        "kendall_tau",
        "n_entered",
        "n_left",
    ]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, r"k must be a positive integer, got 0"),
        ({"k": 5, "p": 1.0}, r"p must be in \(0, 1\), got 1\.0"),
    ],
)
def test_rank_shift_table_refuses_bad_options(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        rank_shift_table({"q": ABC}, {"q": ABC}, **kwargs)  # type: ignore[arg-type]


# --- moved_documents -----------------------------------------------------------------------


def test_moved_documents_reports_every_top_k_document() -> None:
    moved = moved_documents(["a", "b", "c", "d", "e"], ["c", "a", "x", "b", "e"], k=3)
    assert list(moved.columns) == ["doc_id", "old_rank", "new_rank", "delta", "status"]
    assert moved["doc_id"].tolist() == ["c", "a", "x", "b"]
    assert moved["status"].tolist() == ["kept", "kept", "entered", "left"]
    assert moved["old_rank"].tolist() == [3, 1, pd.NA, 2]
    assert moved["new_rank"].tolist() == [1, 2, 3, 4]
    assert moved["delta"].tolist() == [2, -1, pd.NA, -2]  # positive = moved up
    assert str(moved["old_rank"].dtype) == "Int64"


def test_moved_documents_left_entirely() -> None:
    moved = moved_documents(["a", "b"], ["c"], k=2)
    assert moved["doc_id"].tolist() == ["c", "a", "b"]
    assert moved["status"].tolist() == ["entered", "left", "left"]
    assert moved["old_rank"].isna().tolist() == [True, False, False]
    assert moved["new_rank"].isna().tolist() == [False, True, True]
    assert moved["delta"].isna().all()
    assert moved["old_rank"].iloc[1:].tolist() == [1, 2]


def test_moved_documents_refuses_bad_input() -> None:
    with pytest.raises(InvalidArgumentError, match=r"k must be a positive integer, got -1"):
        moved_documents(ABC, ABC, k=-1)
    with pytest.raises(InvalidArgumentError, match=r"ranking candidate_list lists document 'a'"):
        moved_documents(ABC, ["a", "a"], k=2)


# --- score distributions -------------------------------------------------------------------


def test_score_histogram_counts_and_density() -> None:
    scores = np.random.default_rng(0).normal(0.5, 0.1, 1_000)
    hist = score_histogram(scores, bins=20)
    assert list(hist.columns) == ["bin_left", "bin_right", "count", "density"]
    assert len(hist) == 20
    assert hist["count"].sum() == 1_000
    widths = hist["bin_right"] - hist["bin_left"]
    assert (hist["density"] * widths).sum() == pytest.approx(1.0)
    assert hist["bin_left"].iloc[0] == pytest.approx(scores.min())
    assert hist["bin_right"].iloc[-1] == pytest.approx(scores.max())


def test_score_histogram_with_shared_range() -> None:
    hist = score_histogram(np.array([[0.1, 0.2], [0.3, 2.0]]), bins=4, range=(0.0, 1.0))
    assert hist["bin_left"].tolist() == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert hist["count"].tolist() == [2, 1, 0, 0]  # 2.0 falls outside the range
    assert (hist["density"] * 0.25).sum() == pytest.approx(1.0)


def test_score_histogram_out_of_range_has_zero_density() -> None:
    hist = score_histogram([5.0, 6.0], bins=2, range=(0.0, 1.0))
    assert hist["count"].tolist() == [0, 0]
    assert hist["density"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("scores", "kwargs", "match"),
    [
        ([], {}, r"scores is empty"),
        ([0.1, math.nan], {}, r"scores has 1 NaN or infinite scores"),
        ([0.1, math.inf], {}, r"scores has 1 NaN or infinite"),
        ([0.1], {"bins": 0}, r"bins must be a positive integer, got 0"),
        ([0.1], {"range": (1.0, 0.0)}, r"range must be finite \(low, high\) with low < high"),
        ([0.1], {"range": (0.0, math.inf)}, r"range must be finite"),
    ],
)
def test_score_histogram_refuses_bad_input(
    scores: list[float], kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        score_histogram(scores, **kwargs)  # type: ignore[arg-type]


def test_ks_distance() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, 500)
    assert ks_distance(a, a) == (0.0, 1.0)
    statistic, p_value = ks_distance(a, a + 1.0)
    assert 0.3 < statistic < 0.5
    assert p_value < 1e-10
    assert ks_distance([0.0, 1.0], [5.0, 6.0])[0] == 1.0


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [([], [1.0], r"a is empty"), ([1.0], [math.nan], r"b has 1 NaN or infinite scores")],
)
def test_ks_distance_refuses_bad_samples(a: list[float], b: list[float], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        ks_distance(a, b)


# --- threshold translation -----------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1, 250, 999, 1_999])
def test_halved_scores_halve_a_cutoff_taken_from_the_data(index: int) -> None:
    old = np.random.default_rng(2).normal(0.6, 0.1, 2_000)
    cutoff = float(np.sort(old)[index])
    result = translate_threshold(old, old * 0.5, cutoff)
    assert result.new_cutoff == pytest.approx(cutoff * 0.5, abs=1e-15)
    assert result.share_kept == pytest.approx((2_000 - index) / 2_000)
    assert (result.n_old, result.n_new) == (2_000, 2_000)


@pytest.mark.parametrize("cutoff", [0.45, 0.6, 0.72])
def test_halved_scores_halve_any_cutoff_approximately(cutoff: float) -> None:
    old = np.random.default_rng(3).normal(0.6, 0.1, 20_000)
    result = translate_threshold(old, old * 0.5, cutoff)
    assert result.new_cutoff == pytest.approx(cutoff * 0.5, abs=1e-3)
    assert np.mean(old * 0.5 >= result.new_cutoff) == pytest.approx(result.share_kept)


def test_monotone_transform_and_different_sample_sizes() -> None:
    old = np.arange(100, dtype=float)
    new = np.arange(1_000, dtype=float) / 10.0
    result = translate_threshold(old, new, 90.0)
    assert result == ThresholdTranslation(
        old_cutoff=90.0, share_kept=0.1, new_cutoff=90.0, n_old=100, n_new=1_000
    )
    exp = translate_threshold(old, np.exp(old / 50.0), 42.0)
    assert exp.new_cutoff == pytest.approx(math.exp(42.0 / 50.0))


def test_cutoff_beyond_either_end() -> None:
    old, new = np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0])
    above = translate_threshold(old, new, 0.9)
    assert above.share_kept == 0.0
    assert 3.0 < above.new_cutoff < 3.0 + 1e-12  # keeps nothing of the new scores either
    below = translate_threshold(old, new, -5.0)
    assert (below.share_kept, below.new_cutoff) == (1.0, 1.0)


def test_translate_thresholds_table() -> None:
    old = np.arange(101) / 100.0
    table = translate_thresholds(old, old * 2.0, [0.5, 0.9])
    assert list(table.columns) == ["old_cutoff", "share_kept", "new_cutoff", "n_old", "n_new"]
    assert table["new_cutoff"].tolist() == pytest.approx([1.0, 1.8])
    assert table["share_kept"].tolist() == pytest.approx([51 / 101, 11 / 101])
    assert table["n_new"].tolist() == [101, 101]


@pytest.mark.parametrize(
    ("old", "new", "cutoff", "match"),
    [
        ([], [1.0], 0.5, r"old_scores is empty"),
        ([1.0], [], 0.5, r"new_scores is empty"),
        ([1.0], [math.nan], 0.5, r"new_scores has 1 NaN or infinite scores"),
        ([1.0], [1.0], math.nan, r"cutoff must be a finite number, got nan"),
    ],
)
def test_translate_threshold_refuses_bad_input(
    old: list[float], new: list[float], cutoff: float, match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        translate_threshold(old, new, cutoff)


def test_translate_thresholds_refuses_bad_input() -> None:
    with pytest.raises(InvalidArgumentError, match=r"old is empty"):
        translate_thresholds([], [1.0], [0.5])
    with pytest.raises(InvalidArgumentError, match=r"cutoff must be a finite number, got inf"):
        translate_thresholds([1.0], [1.0], [math.inf])
