"""Tests for workbench.metrics.labelled and .paired: metrics agree with pytrec_eval, statistics behave."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytrec_eval
from scipy import stats as scipy_stats

from workbench.errors import InvalidArgumentError, WorkbenchError
from workbench.metrics import labelled as evaluate
from workbench.metrics import paired
from workbench.metrics.labelled import metric_label, parse_metric, per_query_metrics, truncate_run
from workbench.metrics.paired import DeltaStats, describe_delta, paired_delta, paired_deltas

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("WORKBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))
CRANFIELD = SHARED_DATA / "cranfield"
ALL_FAMILIES = ["ndcg", "recall", "mrr", "map", "precision", "hit_rate"]
# Direct pytrec_eval measure for each family (mrr is checked through recip_rank separately).
TREC_KEYS = {
    "ndcg": "ndcg_cut",
    "recall": "recall",
    "map": "map_cut",
    "precision": "P",
    "hit_rate": "success",
}


# --- fixtures and oracles ------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_collection() -> tuple[dict[str, dict[str, float]], dict[str, dict[str, int]]]:
    """50 queries × 100 docs with graded qrels 0-3 and deliberate score ties."""
    rng = np.random.default_rng(7)
    docs = [f"d{i:03d}" for i in range(100)]
    run: dict[str, dict[str, float]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for q in range(50):
        qid = f"q{q}"
        # Two decimals make ties common, so tie-breaking is exercised on every query.
        run[qid] = {doc: round(float(rng.random()), 2) for doc in docs}
        judged = rng.choice([*docs, "unretrieved1", "unretrieved2"], size=15, replace=False)
        qrels[qid] = {str(doc): int(rng.integers(0, 4)) for doc in judged}
    qrels["q0"] = {doc: 0 for doc in docs[:5]}  # judged, but nothing relevant: excluded
    qrels["missing"] = {"d001": 2}  # judged but absent from the run: scores 0.0
    run["unjudged"] = {"d001": 1.0}  # not in qrels: excluded
    return run, qrels


def pytrec_direct(run: dict, qrels: dict, family: str, k: int) -> dict[str, float]:
    """Per-query values straight from pytrec_eval on the untruncated run."""
    if family == "mrr":
        # MRR@k from pytrec_eval's own ordering: recip_rank counts only if the rank is <= k.
        values = _evaluate(qrels, run, "recip_rank", "recip_rank")
        return {qid: rr if rr > 0 and round(1 / rr) <= k else 0.0 for qid, rr in values.items()}
    measure = TREC_KEYS[family]
    return _evaluate(qrels, run, f"{measure}.{k}", f"{measure}_{k}")


def _evaluate(qrels: dict, run: dict, measure: str, key: str) -> dict[str, float]:
    result = pytrec_eval.RelevanceEvaluator(qrels, {measure}).evaluate(run)
    return {qid: values[key] for qid, values in result.items()}


def assert_matches_pytrec(run: dict, qrels: dict, metrics: list[str]) -> pd.DataFrame:
    frame = per_query_metrics(run, qrels, metrics)
    judged = {q: g for q, g in qrels.items() if any(v > 0 for v in g.values())}
    assert list(frame.index) == sorted(judged)
    for name in metrics:
        family, k = parse_metric(name)
        expected = pytrec_direct(run, judged, family, k)
        for qid in frame.index:
            assert frame.at[qid, name] == pytest.approx(expected.get(qid, 0.0), abs=1e-9), (
                name,
                qid,
            )
    return frame


def load_cranfield() -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    def read_jsonl(path: Path) -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    corpus = {
        d["_id"]: f"{d.get('title', '')} {d.get('text', '')}" for d in read_jsonl(CRANFIELD / "corpus.jsonl")
    }
    queries = {q["_id"]: q["text"] for q in read_jsonl(CRANFIELD / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    for line in (CRANFIELD / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, doc, grade = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(grade)
    return corpus, queries, qrels


def overlap_run(corpus: dict[str, str], queries: dict[str, str]) -> dict[str, dict[str, float]]:
    """Score = number of distinct query tokens in the document: crude, and full of ties."""
    doc_tokens = {doc: set(text.lower().split()) for doc, text in corpus.items()}
    run: dict[str, dict[str, float]] = {}
    for qid, text in queries.items():
        q_tokens = set(text.lower().split()) - {".", ",", "the", "of", "a", "and", "in"}
        scores = {doc: float(len(q_tokens & tokens)) for doc, tokens in doc_tokens.items()}
        run[qid] = {doc: s for doc, s in scores.items() if s > 0}
    return run


# --- parse_metric --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ndcg@10", ("ndcg", 10)),
        ("recall@100", ("recall", 100)),
        ("mrr@1", ("mrr", 1)),
        ("map@1000", ("map", 1000)),
        ("precision@5", ("precision", 5)),
        ("hit_rate@3", ("hit_rate", 3)),
        (" nDCG@10 ", ("ndcg", 10)),
    ],
)
def test_parse_metric_accepts_known_names(name: str, expected: tuple[str, int]) -> None:
    assert parse_metric(name) == expected


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("ndcg", r"unknown metric 'ndcg'.*ndcg@k, recall@k, mrr@k, map@k, precision@k"),
        ("bleu@4", r"unknown metric 'bleu@4'.*hit_rate@k"),
        ("", r"unknown metric ''"),
        ("ndcg@0", r"'ndcg@0' needs an integer cutoff k >= 1"),
        ("recall@-5", r"'recall@-5' needs an integer cutoff"),
        ("mrr@ten", r"'mrr@ten' needs an integer cutoff"),
        ("map@", r"'map@' needs an integer cutoff"),
    ],
)
def test_parse_metric_refuses_bad_names(name: str, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        parse_metric(name)


def test_invalid_argument_is_a_value_error_and_workbench_error() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric("nope@1")
    with pytest.raises(WorkbenchError, match="unknown metric"):
        parse_metric("nope@1")


# --- per_query_metrics: agreement with pytrec_eval -----------------------------------------


@pytest.mark.parametrize("k", [1, 5, 10, 100])
def test_matches_pytrec_eval_on_graded_random_run(random_collection: tuple[dict, dict], k: int) -> None:
    run, qrels = random_collection
    assert_matches_pytrec(run, qrels, [f"{family}@{k}" for family in ALL_FAMILIES])


def test_matches_pytrec_eval_on_cranfield() -> None:
    if not (CRANFIELD / "corpus.jsonl").is_file():
        from tests.conftest import SHARED_HINT

        pytest.skip(f"{CRANFIELD} is absent: {SHARED_HINT}")
    corpus, queries, qrels = load_cranfield()
    run = overlap_run(corpus, queries)
    metrics = ["ndcg@10", "recall@100", "mrr@10", "map@100", "precision@5", "hit_rate@10"]
    frame = assert_matches_pytrec(run, qrels, metrics)
    assert len(frame) == 225
    # A token-overlap ranker is weak but far from random on Cranfield.
    assert 0.05 < frame["ndcg@10"].mean() < 0.5


def test_unjudged_queries_are_excluded_and_missed_ones_score_zero(
    random_collection: tuple[dict, dict],
) -> None:
    run, qrels = random_collection
    frame = per_query_metrics(run, qrels, ["ndcg@10", "recall@10"])
    assert "q0" not in frame.index  # only grade-0 judgements
    assert "unjudged" not in frame.index  # not in qrels
    assert frame.loc["missing"].tolist() == [0.0, 0.0]  # judged but never retrieved


def test_frame_shape_index_and_column_order() -> None:
    run = {"b": {"x": 1.0}, "a": {"x": 1.0}, "c": {}}
    qrels = {"b": {"x": 1}, "a": {"y": 2}, "c": {"x": 1}}
    frame = per_query_metrics(run, qrels, ["recall@5", "ndcg@5", "mrr@5"])
    assert frame.index.name == "query_id"
    assert list(frame.index) == ["a", "b", "c"]
    assert list(frame.columns) == ["recall@5", "ndcg@5", "mrr@5"]
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert frame.loc["b"].tolist() == [1.0, 1.0, 1.0]
    assert frame.loc["c"].tolist() == [0.0, 0.0, 0.0]  # empty result list counts as a miss


def test_no_judged_queries_gives_an_empty_frame() -> None:
    frame = per_query_metrics({"q": {"d": 1.0}}, {"q": {"d": 0}}, ["ndcg@10"])
    assert frame.empty
    assert list(frame.columns) == ["ndcg@10"]


def test_graded_gains_are_honoured() -> None:
    run = {"q": {"d1": 2.0, "d2": 1.0}}
    qrels = {"q": {"d1": 1, "d2": 3}}
    # trec_eval: gain = grade, discount = log2(rank + 1).
    dcg = 1 / math.log2(2) + 3 / math.log2(3)
    idcg = 3 / math.log2(2) + 1 / math.log2(3)
    assert per_query_metrics(run, qrels, ["ndcg@2"]).at["q", "ndcg@2"] == pytest.approx(dcg / idcg, abs=1e-12)


def test_numpy_grades_and_scores_are_accepted() -> None:
    run = {"q": {"a": np.float32(0.5), "b": np.float64(0.4)}}
    qrels = {"q": {"b": np.int64(2)}}
    assert per_query_metrics(run, qrels, ["mrr@10"]).at["q", "mrr@10"] == 0.5


# --- MRR@k and tie-breaking ----------------------------------------------------------------


@pytest.mark.parametrize(("k", "expected"), [(1, 0.0), (2, 0.0), (3, 1 / 3), (10, 1 / 3)])
def test_mrr_counts_only_the_top_k(k: int, expected: float) -> None:
    run = {"q": {"d1": 0.9, "d2": 0.8, "d3": 0.7, "d4": 0.6}}
    qrels = {"q": {"d3": 1, "d4": 2, "d1": 0}}
    assert per_query_metrics(run, qrels, [f"mrr@{k}"]).at["q", f"mrr@{k}"] == expected


@pytest.mark.parametrize(
    ("scores", "expected_mrr1"),
    [
        ({"a": 1.0, "b": 1.0}, 0.0),  # exact tie: trec_eval ranks "b" above "a"
        ({"a": 0.3 + 1e-9, "b": 0.3}, 0.0),  # equal as float32, so still a tie
        ({"a": 0.3 + 1e-6, "b": 0.3}, 1.0),  # distinct as float32
        ({"A": 1.0, "a": 1.0}, 1.0),  # byte order: "a" > "A", so "a" comes first
    ],
)
def test_truncation_breaks_ties_like_trec_eval(scores: dict[str, float], expected_mrr1: float) -> None:
    qrels = {"q": {"a": 1}}
    frame = per_query_metrics({"q": scores}, qrels, ["mrr@1", "mrr@2"])
    assert frame.at["q", "mrr@1"] == expected_mrr1
    full = _evaluate(qrels, {"q": scores}, "recip_rank", "recip_rank")["q"]
    assert frame.at["q", "mrr@2"] == full  # with k covering the list, same as pytrec_eval


@pytest.mark.parametrize("k", [1, 3, 10, 25])
def test_truncating_never_changes_pytrec_eval_cut_measures(
    random_collection: tuple[dict, dict], k: int
) -> None:
    run, qrels = random_collection
    rng = np.random.default_rng(k)
    # Add float32-level collisions on top of the two-decimal ties.
    noisy = {
        q: {d: s + float(rng.choice([0.0, 1e-9, 2e-9])) for d, s in docs.items()} for q, docs in run.items()
    }
    measures = {f"ndcg_cut.{k}", f"recall.{k}", f"P.{k}", f"map_cut.{k}", f"success.{k}"}
    full = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(noisy)
    cut = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(truncate_run(noisy, k))
    assert full.keys() == cut.keys()
    for qid in full:
        for key, value in full[qid].items():
            assert cut[qid][key] == pytest.approx(value, abs=1e-12), (qid, key)


def test_truncate_run_keeps_k_documents_and_scores() -> None:
    run = {"q": {"a": 0.1, "b": 0.9, "c": 0.5}, "empty": {}}
    assert truncate_run(run, 2) == {"q": {"b": 0.9, "c": 0.5}, "empty": {}}


def test_hit_rate_fallback_matches_success(
    random_collection: tuple[dict, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    run, qrels = random_collection
    metrics = ["hit_rate@1", "hit_rate@5", "hit_rate@20"]
    with_success = per_query_metrics(run, qrels, metrics)
    monkeypatch.setattr(evaluate, "_HAS_SUCCESS", False)
    pd.testing.assert_frame_equal(per_query_metrics(run, qrels, metrics), with_success)


# --- per_query_metrics: errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("metrics", "match"),
    [
        ([], r"non-empty list of names"),
        ("ndcg@10", r"non-empty list of names"),
        (["ndcg@10", "ndcg@10"], r"unique, repeated: \['ndcg@10'\]"),
        (["ndcg@10", "dcg@10"], r"unknown metric 'dcg@10'"),
        (["recall@0"], r"'recall@0' needs an integer cutoff"),
    ],
)
def test_per_query_metrics_refuses_bad_metric_lists(metrics: object, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        per_query_metrics({"q": {"d": 1.0}}, {"q": {"d": 1}}, metrics)  # type: ignore[arg-type]


def test_per_query_metrics_refuses_fractional_grades() -> None:
    qrels = {"q": {"d": 0.5}}
    with pytest.raises(InvalidArgumentError, match=r"query 'q', document 'd' is 0\.5; grades must be"):
        per_query_metrics({"q": {"d": 1.0}}, qrels, ["ndcg@10"])  # type: ignore[arg-type]


def test_per_query_metrics_refuses_non_numeric_grades() -> None:
    qrels = {"q": {"d": "high"}}
    with pytest.raises(InvalidArgumentError, match=r"document 'd' is 'high'; grades must be integers"):
        per_query_metrics({"q": {"d": 1.0}}, qrels, ["ndcg@10"])  # type: ignore[arg-type]


def test_per_query_metrics_refuses_nan_scores() -> None:
    with pytest.raises(InvalidArgumentError, match=r"query 'q' contain NaN"):
        per_query_metrics({"q": {"d": math.nan}}, {"q": {"d": 1}}, ["ndcg@10"])


def test_truncate_run_refuses_bad_k() -> None:
    with pytest.raises(InvalidArgumentError, match=r"k must be a positive integer, got 0"):
        truncate_run({"q": {"d": 1.0}}, 0)


# --- paired_delta --------------------------------------------------------------------------


def _series(values: np.ndarray, prefix: str = "q") -> pd.Series:
    return pd.Series(values, index=[f"{prefix}{i}" for i in range(len(values))], dtype=float)


def test_clear_improvement_is_significant() -> None:
    rng = np.random.default_rng(1)
    base = _series(rng.uniform(0.2, 0.6, 100))
    cand = base + 0.05 + rng.normal(0, 0.05, 100)
    stats = paired_delta("ndcg@10", base, cand)
    assert stats.n == 100
    assert stats.delta == pytest.approx(cand.mean() - base.mean())
    assert stats.ci_low < stats.delta < stats.ci_high
    assert stats.ci_low > 0
    assert stats.p_ttest < 1e-6
    assert stats.p_permutation < 0.001
    assert stats.wins + stats.ties + stats.losses == 100
    assert stats.wins > stats.losses
    text = describe_delta(stats)
    assert text.startswith("nDCG@10 +0.0")
    assert "p<0.001" in text
    assert "not significant" not in text


def test_noise_is_not_significant_and_reports_mde() -> None:
    rng = np.random.default_rng(2)
    base = _series(rng.uniform(0.2, 0.6, 40))
    cand = base + rng.normal(0, 0.05, 40)
    stats = paired_delta("recall@100", base, cand)
    assert stats.p_permutation > 0.05
    assert stats.p_ttest > 0.05
    assert stats.ci_low < 0 < stats.ci_high
    text = describe_delta(stats)
    assert text.startswith("Recall@100 ")
    expected = f"not significant; with 40 queries only differences larger than ±{stats.mde:.3f}"
    assert expected in text
    assert text.endswith("would be reliably detected.")


def test_mde_follows_the_power_formula() -> None:
    rng = np.random.default_rng(3)
    base, cand = _series(rng.random(30)), _series(rng.random(30))
    stats = paired_delta("mrr@10", base, cand)
    z = scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(0.8)
    sd = np.std(cand.to_numpy() - base.to_numpy(), ddof=1)
    assert stats.mde == pytest.approx(z * sd / math.sqrt(30))


def test_identical_runs_tie_everywhere() -> None:
    base = _series(np.linspace(0, 1, 20))
    stats = paired_delta("map@10", base, base.copy())
    assert (stats.wins, stats.ties, stats.losses) == (0, 20, 0)
    assert stats.p_ttest == 1.0
    assert stats.p_permutation == 1.0
    assert (stats.ci_low, stats.ci_high) == (0.0, 0.0)
    assert stats.delta == 0.0
    assert stats.mde == 0.0
    assert describe_delta(stats).endswith(
        "(20 ties) — not significant; the two runs score every query the same."
    )


def test_ties_use_a_1e_12_tolerance() -> None:
    base = _series(np.array([0.5, 0.5, 0.5, 0.5]))
    cand = _series(np.array([0.5 + 1e-13, 0.5 - 1e-13, 0.6, 0.4]))
    stats = paired_delta("ndcg@10", base, cand)
    assert (stats.wins, stats.ties, stats.losses) == (1, 2, 1)


def test_single_query_has_no_interval_or_ttest() -> None:
    stats = paired_delta("ndcg@10", _series(np.array([0.2])), _series(np.array([0.7])))
    assert stats.n == 1
    assert math.isnan(stats.ci_low) and math.isnan(stats.ci_high)
    assert math.isnan(stats.p_ttest)
    assert math.isnan(stats.mde)
    assert stats.p_permutation == 1.0
    assert "only 1 query differs, too few for the test to reach p<0.05" in describe_delta(stats)


def test_pairs_by_query_id_not_by_position() -> None:
    rng = np.random.default_rng(4)
    base, cand = _series(rng.random(50)), _series(rng.random(50))
    shuffled = cand.sample(frac=1.0, random_state=0)
    assert paired_delta("ndcg@10", base, shuffled) == paired_delta("ndcg@10", base, cand)


def test_fixed_seed_is_reproducible_and_seed_matters() -> None:
    rng = np.random.default_rng(5)
    base, cand = _series(rng.random(300)), _series(rng.random(300))
    first = paired_delta("ndcg@10", base, cand, seed=3)
    assert paired_delta("ndcg@10", base, cand, seed=3) == first
    assert paired_delta("ndcg@10", base, cand, seed=4).ci_low != first.ci_low


def test_small_samples_use_scipys_exact_sign_flip_test() -> None:
    diff = np.array([0.3, 0.1, -0.05, 0.2, 0.25, 0.15, 0.05, -0.1])
    base = _series(np.zeros(8))
    stats = paired_delta("ndcg@10", base, _series(diff))
    expected = scipy_stats.permutation_test((diff,), np.mean, permutation_type="samples", n_resamples=10_000)
    assert stats.p_permutation == pytest.approx(expected.pvalue, abs=1e-12)


def test_large_samples_agree_with_scipys_randomised_permutation_test() -> None:
    rng = np.random.default_rng(6)
    diff = rng.normal(0.015, 0.1, 200)
    stats = paired_delta("ndcg@10", _series(np.zeros(200)), _series(diff))
    expected = scipy_stats.permutation_test(
        (diff,),
        lambda x, axis: np.mean(x, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=10_000,
        rng=np.random.default_rng(0),
    ).pvalue
    # Two independent Monte Carlo estimates of the same p (about 0.035): SE ≈ 0.002 each.
    assert stats.p_permutation == pytest.approx(expected, abs=0.015)
    assert stats.p_ttest == pytest.approx(scipy_stats.ttest_1samp(diff, 0.0).pvalue)


def test_ten_thousand_queries_are_summarised() -> None:
    rng = np.random.default_rng(8)
    base = _series(rng.random(10_000))
    cand = base + rng.normal(0.005, 0.1, 10_000)
    stats = paired_delta("ndcg@10", base, cand)
    assert stats.n == 10_000
    assert stats.ci_low < stats.delta < stats.ci_high


@pytest.mark.slow
def test_interval_excludes_zero_exactly_when_the_test_is_significant() -> None:
    # Issue #13: a bootstrap interval excluded 0 while the permutation p was 0.12. Continuous,
    # ties-heavy and tenth-step differences, exact and random sign flips, small and large n.
    rng = np.random.default_rng(21)
    disagreements = []
    for case in range(600):
        n = int(rng.integers(2, 80))
        kind = case % 3
        if kind == 0:
            diff = rng.normal(rng.normal(0, 0.05), 0.1, n)
        elif kind == 1:
            diff = rng.choice([0.0] * 6 + [1.0, 1.0, -1.0], n)
        else:
            diff = rng.integers(-3, 4, n) / 10
        stats = paired_delta("m", _series(np.zeros(n)), _series(diff), n_resamples=1_000, seed=case)
        if (stats.p_permutation < 0.05) == (stats.ci_low <= 0 <= stats.ci_high):
            disagreements.append((n, kind, stats.p_permutation, stats.ci_low, stats.ci_high))
    assert disagreements == []


def test_ties_heavy_metric_is_not_significant_and_its_interval_holds_zero() -> None:
    # Cranfield hit_rate@100 as reported in issue #13: 6 wins, 218 ties, 1 loss.
    diff = np.array([1.0] * 6 + [0.0] * 218 + [-1.0])
    stats = paired_delta("hit_rate@100", _series(np.zeros(225)), _series(diff))
    assert (stats.wins, stats.ties, stats.losses) == (6, 218, 1)
    assert stats.delta == pytest.approx(5 / 225)
    assert stats.p_permutation == pytest.approx(2 * 8 / 128, abs=0.02)  # P(≥ 6 of 7 signs +)
    # The heap of ties pins the low end at 0 (no centre below 0 is symmetric with it): the
    # interval holds 0, as the test says, where the bootstrap interval excluded it.
    assert stats.ci_low <= 0 < stats.ci_high and stats.ci_low == pytest.approx(0.0, abs=1e-9)
    assert "not significant" in describe_delta(stats)


@pytest.mark.parametrize("n", [9, 60])  # exact enumeration, random sign patterns
def test_interval_ends_are_where_the_shifted_test_starts_rejecting(n: int) -> None:
    diff = np.random.default_rng(n).gamma(0.7, 0.1, n) - 0.03
    stats = paired_delta("m", _series(np.zeros(n)), _series(diff), n_resamples=4_000, seed=3)

    def p_at(shift: float) -> float:
        shifted = _series(diff - shift)
        return paired_delta("m", _series(np.zeros(n)), shifted, n_resamples=4_000, seed=3).p_permutation

    step = 1e-7
    assert p_at(stats.ci_low - step) < 0.05 <= p_at(stats.ci_low + step)
    assert p_at(stats.ci_high + step) < 0.05 <= p_at(stats.ci_high - step)


def test_too_few_differing_queries_give_an_unbounded_interval() -> None:
    # Five queries: 32 sign patterns, the smallest two-sided p is 2/32 > 0.05.
    stats = paired_delta("m", _series(np.zeros(5)), _series(np.full(5, 0.2)))
    assert stats.p_permutation == pytest.approx(2 / 32)
    assert (stats.ci_low, stats.ci_high) == (-math.inf, math.inf)


def test_sign_flip_p_is_monte_carlo_test_p_for_the_same_signs() -> None:
    diff = np.random.default_rng(13).normal(0.01, 0.1, 150)
    stats = paired_delta("ndcg@10", _series(np.zeros(150)), _series(diff), n_resamples=5_000, seed=4)
    rng = np.random.default_rng(4)

    def rvs(size: tuple[int, int]) -> np.ndarray:
        keep = np.unpackbits(rng.integers(0, 256, size=(size[0], 19), dtype=np.uint8), axis=-1, count=150)
        return np.where(keep.astype(bool), diff, -diff)

    expected = scipy_stats.monte_carlo_test(
        (diff,),
        (rvs,),
        lambda x, axis: np.mean(x, axis=axis),
        vectorized=True,
        n_resamples=5_000,
        batch=paired._BATCH_CELLS // 150,
    )
    assert stats.p_permutation == pytest.approx(expected.pvalue, abs=1e-12)


def test_sign_flips_that_tie_in_exact_arithmetic_count_as_ties() -> None:
    # Differences in tenths, like precision@10: many sign patterns give the observed sum exactly,
    # while the floating-point sums may differ from it in the last bits.
    steps = np.random.default_rng(14).choice([-3, -2, -1, 0, 0, 1, 1, 2, 3], 300)
    stats = paired_delta("precision@10", _series(np.zeros(300)), _series(steps / 10), n_resamples=2_000)
    bits = np.random.default_rng(0).integers(0, 256, size=(2_000, 38), dtype=np.uint8)  # the same signs
    null = (np.unpackbits(bits, axis=-1, count=300).astype(np.int64) * 2 - 1) @ steps  # exact sums
    low, high = np.count_nonzero(null <= steps.sum()), np.count_nonzero(null >= steps.sum())
    assert stats.p_permutation == pytest.approx(min(2 * min(low + 1, high + 1) / 2_001, 1.0), abs=1e-12)


def _frames(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    base = pd.DataFrame(
        {
            "ndcg@10": rng.uniform(0.2, 0.6, n),
            "recall@100": rng.integers(0, 11, n) / 10,
            "mrr@10": rng.uniform(0, 1, n),
            "same": np.linspace(0, 1, n),
            "shifted": np.linspace(0, 1, n),
        },
        index=[f"q{i}" for i in range(n)],
    )
    cand = base.assign(
        **{
            "ndcg@10": base["ndcg@10"] + rng.normal(0.02, 0.05, n),
            "recall@100": rng.integers(0, 11, n) / 10,
            "mrr@10": base["mrr@10"] + rng.normal(0, 0.1, n),
            "shifted": base["shifted"] + 0.1,
        }
    )
    return base, cand.sample(frac=1.0, random_state=0)  # paired by query id, not by position


@pytest.mark.parametrize("n", [1, 5, 13, 14, 300])  # one query, the exact test, the random one
def test_paired_deltas_gives_each_metric_what_paired_delta_gives(n: int) -> None:
    base, cand = _frames(n, seed=n)
    together = paired_deltas(base, cand, seed=3)
    assert list(together) == list(base.columns)
    for metric in base.columns:
        alone = asdict(paired_delta(metric, base[metric], cand[metric], seed=3))
        # Equal up to the rounding of a matrix product over one metric or five.
        assert asdict(together[metric]) == pytest.approx(alone, abs=1e-12, nan_ok=True)


def test_paired_deltas_handles_tied_and_constant_metrics_alongside_others() -> None:
    base, cand = _frames(300, seed=1)
    stats = paired_deltas(base, cand)
    same, shifted = stats["same"], stats["shifted"]
    assert (same.p_permutation, same.p_ttest, same.ci_low, same.ci_high, same.mde) == (1.0, 1.0, 0, 0, 0)
    assert (shifted.p_ttest, shifted.mde, shifted.wins) == (0.0, 0.0, 300)
    assert shifted.ci_low == pytest.approx(0.1) and shifted.ci_high == pytest.approx(0.1)
    assert stats["ndcg@10"].ci_low < stats["ndcg@10"].delta < stats["ndcg@10"].ci_high


def test_paired_deltas_is_reproducible_and_seeded() -> None:
    base, cand = _frames(200, seed=2)
    assert paired_deltas(base, cand, seed=5) == paired_deltas(base, cand, seed=5)
    seeds = [paired_deltas(base, cand, seed=seed)["mrr@10"] for seed in (5, 6)]
    assert seeds[0].ci_low != seeds[1].ci_low


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: f.drop(columns="same"), r"same metric columns: \['same'\] only in baseline, \[\] only in"),
        (lambda f: f.rename(index={"q0": "x"}), r"same queries: 1 only in baseline \(e\.g\. \['q0'\]\)"),
        (lambda f: f.assign(mrr=math.nan), r"candidate has NaN values \(in mrr\)"),
        (lambda f: pd.concat([f, f.loc[["q0"]]]), r"candidate repeats query ids \['q0'\]"),
        (lambda f: f.set_axis([*"aabcd"], axis=1), r"candidate repeats metric columns \['a'\]"),
        (lambda f: f["same"], "candidate must be a pandas DataFrame, got Series"),
        (lambda f: f.iloc[:0], "only in baseline"),
    ],
)
def test_paired_deltas_refuses_mismatched_frames(change: object, match: str) -> None:
    base, cand = _frames(10, seed=3)
    with pytest.raises(InvalidArgumentError, match=match):
        paired_deltas(base, change(cand))  # type: ignore[operator]


def test_paired_deltas_refuses_empty_frames() -> None:
    empty = pd.DataFrame({"ndcg@10": []}, dtype=float)
    with pytest.raises(InvalidArgumentError, match="need at least one query"):
        paired_deltas(empty, empty)


def test_metric_labels() -> None:
    assert metric_label("ndcg@10") == "nDCG@10"
    assert metric_label("hit_rate@5") == "HitRate@5"
    assert metric_label("custom") == "custom"


def test_paired_delta_refuses_mismatched_queries() -> None:
    base = _series(np.zeros(3))
    cand = pd.Series([0.0, 0.0, 0.0], index=["q0", "q1", "x9"])
    with pytest.raises(
        InvalidArgumentError,
        match=r"same queries: 1 only in baseline \(e\.g\. \['q2'\]\), 1 only in candidate",
    ):
        paired_delta("ndcg@10", base, cand)


@pytest.mark.parametrize(
    ("base", "cand", "match"),
    [
        (pd.Series([0.1, 0.2], index=["a", "a"]), pd.Series([0.1], index=["a"]), "repeats"),
        (pd.Series([0.1, math.nan]), pd.Series([0.1, 0.2]), "baseline has NaN"),
        (pd.Series([0.1]), [0.1], "candidate must be a pandas Series, got list"),
        (pd.Series([], dtype=float), pd.Series([], dtype=float), "need at least one query"),
    ],
)
def test_paired_delta_refuses_bad_series(base: object, cand: object, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        paired_delta("ndcg@10", base, cand)  # type: ignore[arg-type]


def test_paired_delta_refuses_too_few_resamples() -> None:
    base = _series(np.zeros(3))
    with pytest.raises(InvalidArgumentError, match=r"n_resamples must be at least 100, got 10"):
        paired_delta("ndcg@10", base, base, n_resamples=10)


# --- describe_delta ------------------------------------------------------------------------


def _stats(**changes: object) -> DeltaStats:
    fields = dict(
        metric="ndcg@10",
        n=100,
        baseline_mean=0.400,
        candidate_mean=0.441,
        delta=0.041,
        ci_low=0.018,
        ci_high=0.064,
        p_ttest=0.001,
        p_permutation=0.001,
        wins=61,
        ties=17,
        losses=22,
        mde=0.03,
    )
    fields.update(changes)
    return DeltaStats(**fields)  # type: ignore[arg-type]


def test_describe_significant_result() -> None:
    assert describe_delta(_stats()) == (
        "nDCG@10 +0.041 [+0.018, +0.064], p=0.001: "
        "the candidate is better on 61 queries, worse on 22 (17 ties)."
    )


def test_describe_non_significant_result() -> None:
    stats = _stats(n=40, delta=-0.012, ci_low=-0.05, ci_high=0.02, p_permutation=0.42, mde=0.063)
    assert describe_delta(stats) == (
        "nDCG@10 -0.012 [-0.050, +0.020], p=0.420: the candidate is better on 61 queries, "
        "worse on 22 (17 ties) — not significant; with 40 queries only differences larger "
        "than ±0.063 would be reliably detected."
    )


def test_describe_rescales_the_mde_for_a_stricter_alpha() -> None:
    text = describe_delta(_stats(p_permutation=0.03, mde=0.063), alpha=0.01)
    z = scipy_stats.norm.ppf(0.8)
    scaled = 0.063 * (scipy_stats.norm.ppf(0.995) + z) / (scipy_stats.norm.ppf(0.975) + z)
    assert f"not significant; with 100 queries only differences larger than ±{scaled:.3f}" in text


def test_describe_says_when_too_few_queries_differ() -> None:
    text = describe_delta(_stats(n=5, wins=5, ties=0, losses=0, p_permutation=0.0625))
    assert text.endswith(
        "only 5 queries differ, too few for the test to reach p<0.05 whatever the size of the "
        "difference; judge more queries."
    )


@pytest.mark.parametrize(
    ("metric", "label"),
    [
        ("ndcg@10", "nDCG@10"),
        ("recall@100", "Recall@100"),
        ("mrr@10", "MRR@10"),
        ("map@100", "MAP@100"),
        ("precision@5", "P@5"),
        ("hit_rate@3", "HitRate@3"),
        ("latency_ms", "latency_ms"),
    ],
)
def test_describe_uses_pretty_labels(metric: str, label: str) -> None:
    assert describe_delta(_stats(metric=metric)).startswith(f"{label} +0.041")


def test_describe_singular_counts() -> None:
    assert "better on 1 query, worse on 1 (1 tie)." in describe_delta(_stats(wins=1, losses=1, ties=1))


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, math.nan])
def test_describe_refuses_bad_alpha(alpha: float) -> None:
    with pytest.raises(InvalidArgumentError, match=r"alpha must be in \(0, 1\)"):
        describe_delta(_stats(), alpha=alpha)


def test_holm_matches_the_step_down_definition() -> None:
    from workbench.metrics.multiple import holm

    # sorted p: 0.01 (x3), 0.03 (x2), 0.04 (x1) -> 0.03, 0.06, 0.06 after the running maximum
    assert holm([0.01, 0.04, 0.03]).round(6).tolist() == [0.03, 0.06, 0.06]
    adjusted = holm([float("nan"), 0.02, 0.5])
    assert np.isnan(adjusted[0]) and adjusted[1:].round(6).tolist() == [0.04, 0.5]
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0]  # 0.8 x 2 is capped at 1; monotone after it
