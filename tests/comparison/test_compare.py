"""Comparisons end to end on the real demo workspace and real models: numbers, storage, bad input."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytrec_eval

from workbench.comparison.run import compare
from workbench.demo import DEMO_EVAL_SET, DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.errors import DataError, InvalidArgumentError, MixedIndexError, NotFoundError, StaleColumnError
from workbench.metrics.paired import paired_delta
from workbench.metrics.shifts import jaccard_at_k, kendall_tau_shared, overlap_at_k, rank_biased_overlap
from workbench.models.catalog import CATALOG
from workbench.models.embedder import Embedder
from workbench.models.ref import ModelRef
from workbench.retrieval.exact import exact_search, read_vectors
from workbench.store.comparisons import Comparison, count_comparisons, list_comparisons, load_comparison
from workbench.store.evalsets import EvalSet, load_eval_set, save_eval_set
from workbench.store.workspace import Workspace, open_workspace

OLD_COL = CATALOG[OLD_MODEL].column
NEW_COL = CATALOG[NEW_MODEL].column


class Recording:
    """An embedder that delegates to a real one and records every query it encodes."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.ref: ModelRef = inner.ref
        self.queries: list[str] = []

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self.inner.encode_documents(texts, batch_size=batch_size)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.queries.extend(texts)
        return self.inner.encode_queries(texts, batch_size=batch_size)


@pytest.fixture(scope="module")
def shared_ws(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    target = tmp_path_factory.mktemp("compare") / "ws"
    shutil.copytree(demo_template, target)
    return open_workspace(target)


@pytest.fixture(scope="module")
def recorders(embedders: dict[str, Embedder]) -> dict[str, Recording]:
    return {name: Recording(embedder) for name, embedder in embedders.items()}


@pytest.fixture(scope="module")
def cmp(shared_ws: Workspace, recorders: dict[str, Recording]) -> Comparison:
    """One real comparison of the demo: old model (baseline) vs new model (candidate)."""
    return compare(
        shared_ws,
        baseline=OLD_MODEL,
        candidate=NEW_COL,
        eval_set=DEMO_EVAL_SET,
        embedders=recorders,
        clock=lambda: datetime(2026, 11, 21, 23, 45, 1, tzinfo=UTC),
    )


def test_result_holds_metrics_deltas_and_a_sentence(cmp: Comparison) -> None:
    m = cmp.manifest
    assert (m.n_queries, m.n_judged, m.n_unjudged) == (57, 52, 5)
    assert m.k_values == [10, 100] and len(m.metrics) == 12 and m.headline_metric == "ndcg@10"
    assert list(cmp.deltas.index) == m.metrics
    assert list(cmp.deltas.columns) == [
        *("baseline", "candidate", "delta", "ci_low", "ci_high", "p_ttest", "p_permutation"),
        *("wins", "ties", "losses", "n", "mde"),
    ]
    row = cmp.deltas.loc["ndcg@10"]
    assert row["n"] == 52 and row["wins"] + row["ties"] + row["losses"] == 52
    assert row["ci_low"] <= row["delta"] <= row["ci_high"]
    assert row["delta"] == pytest.approx(row["candidate"] - row["baseline"])
    assert re.match(r"nDCG@10 [+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\], p[<=]", cmp.summary)
    assert f"better on {int(row['wins'])} queries, worse on {int(row['losses'])}" in cmp.summary


def test_manifest_pins_everything_needed_to_reproduce(cmp: Comparison, shared_ws: Workspace) -> None:
    m = cmp.manifest
    table = shared_ws.table(DEMO_TABLE)
    assert m.table == DEMO_TABLE and m.table_version == table.version
    assert (m.baseline_column, m.candidate_column) == (OLD_COL, NEW_COL)
    assert (m.baseline_label, m.candidate_label) == (OLD_MODEL, NEW_COL)
    assert m.baseline_pin["fingerprint"] == CATALOG[OLD_MODEL].fingerprint
    assert ModelRef.model_validate(m.candidate_pin) == CATALOG[NEW_MODEL]
    assert m.eval_set_hash == load_eval_set(shared_ws, DEMO_EVAL_SET).content_hash
    assert {"lancedb", "numpy", "scipy"} <= set(m.library_versions)
    assert m.created_at == "2026-11-21T23:45:01+00:00"
    assert re.fullmatch(r"cmp-20261121-234501-[0-9a-f]{4}", cmp.id)
    assert m.warnings == [] and m.timings["search_s"] > 0


def test_each_query_is_encoded_by_its_own_columns_model(
    cmp: Comparison, shared_ws: Workspace, recorders: dict[str, Recording]
) -> None:
    texts = sorted(load_eval_set(shared_ws, DEMO_EVAL_SET).queries.values())
    assert sorted(recorders[OLD_COL].queries) == texts == sorted(recorders[NEW_COL].queries)
    # The baseline ranking is what the old model's query vectors find among the old vectors.
    table = shared_ws.table(DEMO_TABLE)
    queries = load_eval_set(shared_ws, DEMO_EVAL_SET).queries
    ids, matrix = read_vectors(table, OLD_COL)
    vectors = recorders[OLD_COL].inner.encode_queries(list(queries.values()))
    expected = exact_search(ids, matrix, vectors, list(queries), k=10)
    got = cmp.rankings[(cmp.rankings["side"] == "baseline") & (cmp.rankings["rank"] <= 10)]
    merged = got.merge(expected, on=["query_id", "rank"], suffixes=("", "_np"))
    assert len(merged) == 57 * 10
    assert (merged["doc_id"] == merged["doc_id_np"]).mean() > 0.99  # exact ties may swap
    assert np.abs(merged["score"] - merged["score_np"]).max() < 1e-5


def test_metrics_equal_pytrec_eval_on_the_real_run(cmp: Comparison, shared_ws: Workspace) -> None:
    qrels = load_eval_set(shared_ws, DEMO_EVAL_SET).qrels
    measures = {
        "ndcg@10": ("ndcg_cut.10", "ndcg_cut_10"),
        "ndcg@100": ("ndcg_cut.100", "ndcg_cut_100"),
        "recall@10": ("recall.10", "recall_10"),
        "precision@10": ("P.10", "P_10"),
        "map@100": ("map_cut.100", "map_cut_100"),
        "hit_rate@10": ("success.10", "success_10"),
    }
    for side in ("baseline", "candidate"):
        ranking = cmp.rankings[cmp.rankings["side"] == side]
        run: dict[str, dict[str, float]] = {}
        for q, d, s in zip(ranking["query_id"], ranking["doc_id"], ranking["score"], strict=True):
            run.setdefault(q, {})[d] = float(s)
        per_query = cmp.per_query.set_index("query_id")
        for metric, (measure, key) in measures.items():
            evaluated = pytrec_eval.RelevanceEvaluator(qrels, {measure}).evaluate(run)
            ours = per_query.loc[list(evaluated), f"{metric}_{side}"]
            theirs = pd.Series({q: v[key] for q, v in evaluated.items()})
            assert len(theirs) == 52 and np.abs(ours.to_numpy() - theirs.to_numpy()).max() < 1e-9, metric
        top10 = {q: dict(sorted(d.items(), key=lambda kv: -kv[1])[:10]) for q, d in run.items()}
        rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
        ours = per_query.loc[list(rr), f"mrr@10_{side}"].to_numpy()
        assert np.abs(ours - np.array([v["recip_rank"] for v in rr.values()])).max() < 1e-9


def test_deltas_are_the_paired_statistics_of_the_per_query_values(cmp: Comparison) -> None:
    judged = cmp.per_query[cmp.per_query["judged"]].set_index("query_id")
    for metric in cmp.manifest.metrics:
        alone = paired_delta(metric, judged[f"{metric}_baseline"], judged[f"{metric}_candidate"])
        row = cmp.deltas.loc[metric]
        for field in ("delta", "ci_low", "ci_high", "p_ttest", "p_permutation", "mde", "wins", "losses"):
            assert row[field] == pytest.approx(getattr(alone, field), abs=1e-12), (metric, field)


def test_rank_shifts_and_grades_follow_the_stored_rankings(cmp: Comparison, shared_ws: Workspace) -> None:
    eval_set = load_eval_set(shared_ws, DEMO_EVAL_SET)
    ranked = cmp.rankings.sort_values(["side", "query_id", "rank"])
    lists = {
        side: group.groupby("query_id")["doc_id"].agg(list).to_dict()
        for side, group in ranked.groupby("side")
    }
    for row in cmp.per_query.to_dict("records"):
        old, new = lists["baseline"][row["query_id"]][:10], lists["candidate"][row["query_id"]][:10]
        assert row["overlap@10"] == overlap_at_k(old, new, 10)
        assert row["jaccard@10"] == jaccard_at_k(old, new, 10)
        assert row["rbo"] == pytest.approx(rank_biased_overlap(old, new), abs=1e-12)
        assert row["kendall_tau"] == pytest.approx(kendall_tau_shared(old, new), abs=1e-12, nan_ok=True)
    judged = cmp.rankings[cmp.rankings["query_id"].isin(eval_set.judged_queries)]
    pairs = zip(judged["query_id"], judged["doc_id"], strict=True)
    assert judged["grade"].tolist() == [eval_set.qrels[q].get(d, 0) for q, d in pairs]


def test_unjudged_queries_count_for_rank_shifts_only(cmp: Comparison) -> None:
    pq = cmp.per_query
    unjudged = pq[~pq["judged"]]
    assert len(pq) == 57 and len(unjudged) == 5
    assert unjudged["ndcg@10_delta"].isna().all() and unjudged["overlap@10"].notna().all()
    assert cmp.rankings.loc[cmp.rankings["query_id"].isin(unjudged["query_id"]), "grade"].isna().all()
    assert {"overlap@10", "jaccard@10", "overlap@100", "rbo", "kendall_tau", "n_entered"} <= set(pq.columns)
    assert pq["overlap@10"].between(0, 1).all() and pq["rbo"].between(0, 1).all()
    assert (pq["n_entered"] == pq["n_left"]).all()
    assert pq["query"].str.len().gt(0).all()


def test_drilldown_puts_both_top_lists_side_by_side(cmp: Comparison) -> None:
    worst = cmp.worst_regressions(3)
    qid = str(worst["query_id"].iloc[0])
    view = cmp.drilldown(qid)
    assert list(view.columns) == [
        *("doc_id", "title", "grade", "status", "baseline_rank", "baseline_score"),
        *("candidate_rank", "candidate_score", "delta_rank"),
    ]
    kept, entered, left = (view[view["status"] == s] for s in ("kept", "entered", "left"))
    assert len(kept) + len(entered) == 10 == len(kept) + len(left)
    assert (entered["candidate_rank"] <= 10).all() and not (entered["baseline_rank"] <= 10).any()
    assert (left["baseline_rank"] <= 10).all()
    assert (kept["delta_rank"] == kept["baseline_rank"] - kept["candidate_rank"]).all()
    assert view["grade"].notna().all() and view["title"].str.len().gt(0).all()
    with pytest.raises(NotFoundError, match="query 'nope' is not in comparison"):
        cmp.drilldown("nope")


def test_worst_regressions_come_first(cmp: Comparison) -> None:
    worst = cmp.worst_regressions(50)
    assert (worst["ndcg@10_delta"] < 0).all() and worst["ndcg@10_delta"].is_monotonic_increasing
    assert len(worst) == cmp.deltas.loc["ndcg@10", "losses"]
    by_rbo = cmp.worst_regressions(5, metric="rbo")
    assert len(by_rbo) == 5 and by_rbo["rbo"].is_monotonic_increasing
    assert len(cmp.worst_regressions(2, metric="recall@100")) <= 2
    with pytest.raises(InvalidArgumentError, match=r"unknown metric 'ndcg@7'.*allowed: ndcg@10"):
        cmp.worst_regressions(metric="ndcg@7")


def test_score_distributions_ks_and_threshold_translation(cmp: Comparison) -> None:
    scores = cmp.scores
    assert len(scores) == 2 * 57 * 10 and scores["score"].between(-1, 1).all()
    assert scores["relevant"].isna().sum() == 2 * 5 * 10  # unjudged queries have no label
    hist = cmp.histograms(bins=20)
    assert set(hist["label"]) == {"all", "relevant", "non-relevant"}
    assert hist.groupby(["side", "label"])["count"].sum().loc[("baseline", "all")] == 570
    assert 0 < cmp.ks.statistic <= 1 and 0 <= cmp.ks.p <= 1
    t = cmp.thresholds
    old = scores.loc[scores["side"] == "baseline", "score"]
    new = scores.loc[scores["side"] == "candidate", "score"]
    quartiles = {round(float(q), 2) for q in old.quantile([0.5, 0.75, 0.9])}
    assert quartiles <= set(t["old_cutoff"]) and t["share_kept"].is_monotonic_decreasing
    # Issue #13: only default cut-offs inside the observed range (a cut-off above every score
    # would show "0.0 % kept" and the new model's maximum).
    assert t["old_cutoff"].between(old.min(), old.max(), inclusive="right").all()
    assert t["share_kept"].between(0, 1, inclusive="neither").all()
    for row in t[t["share_kept"] > 0].itertuples():
        assert (old >= row.old_cutoff).mean() == pytest.approx(row.share_kept)
        assert (new >= row.new_cutoff).mean() == pytest.approx(row.share_kept, abs=1 / len(new))


def test_stored_comparison_loads_equal_and_is_listed(cmp: Comparison, shared_ws: Workspace) -> None:
    loaded = load_comparison(shared_ws, cmp.id)
    assert loaded == cmp and loaded is not cmp
    for name in ("deltas", "per_query", "rankings", "documents", "thresholds"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(cmp, name))
    listed = list_comparisons(shared_ws).set_index("id").loc[cmp.id]
    assert (listed["baseline"], listed["candidate"], listed["eval_set"]) == (OLD_MODEL, NEW_COL, "demo")
    assert listed["delta"] == pytest.approx(cmp.deltas.loc["ndcg@10", "delta"])
    assert listed["summary"] == cmp.summary
    with pytest.raises(NotFoundError, match=f"no comparison 'cmp-nope'.*recent: {cmp.id}"):
        load_comparison(shared_ws, "cmp-nope")


# --- bad input: a clear error, nothing written ---------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"eval_set": "nope"}, NotFoundError, "no eval set 'nope'.*eval sets: demo"),
        ({"candidate": "ghost"}, NotFoundError, "no vector column 'ghost'.*aliases: minilm-l3, minilm-l6"),
        ({"table": "nope"}, NotFoundError, "no table 'nope'"),
        ({"k": (0,)}, InvalidArgumentError, "k must be one or more positive integers"),
        ({"k": (10, -5)}, InvalidArgumentError, "k must be one or more positive integers"),
        ({"k": ()}, InvalidArgumentError, "k must be one or more positive integers"),
        ({"candidate": OLD_COL}, InvalidArgumentError, "are the same column"),
        ({"metrics": ["ndcg@10", "bleu@4"]}, InvalidArgumentError, "unknown metric 'bleu@4'"),
        ({"metrics": ["ndcg@10", "NDCG@10"]}, InvalidArgumentError, "repeated: ndcg@10"),
        ({"metrics": []}, InvalidArgumentError, "metrics is empty"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(
    shared_ws: Workspace, options: dict[str, object], error: type[Exception], message: str
) -> None:
    before = count_comparisons(shared_ws)
    arguments: dict[str, object] = {"baseline": OLD_MODEL, "candidate": NEW_MODEL, "eval_set": "demo"}
    with pytest.raises(error, match=message):
        compare(shared_ws, **{**arguments, **options})  # type: ignore[arg-type]
    assert count_comparisons(shared_ws) == before


def test_wrong_injected_embedder_is_refused(shared_ws: Workspace, embedders: dict[str, Embedder]) -> None:
    swapped = {OLD_COL: embedders[NEW_COL]}
    with pytest.raises(MixedIndexError, match="queries must be encoded by the column's own model"):
        compare(shared_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=swapped)


def test_qrels_that_name_no_document_of_the_table_are_refused(shared_ws: Workspace) -> None:
    save_eval_set(shared_ws, EvalSet("ghosts", DEMO_TABLE, {"g1": "rice"}, {"g1": {"x404": 1}}))
    before = count_comparisons(shared_ws)
    with pytest.raises(DataError, match="none of the 1 relevant documents named by eval set 'ghosts'"):
        compare(shared_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="ghosts")
    assert count_comparisons(shared_ws) == before


def test_stale_column_is_refused_then_warned_with_allow_stale(
    demo_ws: Workspace, embedders: dict[str, Embedder]
) -> None:
    demo_ws.table(DEMO_TABLE).update(where="id = 'd0001'", values={"text": "edited", "content_hash": "x"})
    small = EvalSet("small", DEMO_TABLE, {"q01": "sticky rice", "q02": "grey steak"}, {"q01": {"d0001": 2}})
    save_eval_set(demo_ws, small)
    with pytest.raises(StaleColumnError, match=f"column {OLD_COL} has 0 rows without a vector and 1 stale"):
        compare(demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="small", embedders=embedders)
    assert count_comparisons(demo_ws) == 0
    result = compare(
        demo_ws,
        baseline=OLD_MODEL,
        candidate=NEW_MODEL,
        eval_set="small",
        embedders=embedders,
        allow_stale=True,
    )
    assert any("1 stale rows" in w and "compared anyway" in w for w in result.manifest.warnings)
    assert any("only 1 judged query" in w for w in result.manifest.warnings)
    assert count_comparisons(demo_ws) == 1


def test_unlabelled_eval_set_gives_rank_shifts_and_says_so(
    shared_ws: Workspace, embedders: dict[str, Embedder]
) -> None:
    queries = {"u1": "how to keep rice grains separate", "u2": "dog barks when alone", "u3": "sore knees"}
    save_eval_set(shared_ws, EvalSet("unlabelled", DEMO_TABLE, queries, {}))
    result = compare(
        shared_ws,
        baseline=OLD_MODEL,
        candidate=NEW_MODEL,
        eval_set="unlabelled",
        k=[5],
        embedders=embedders,
        store=False,
    )
    assert result.deltas.empty and result.manifest.headline_metric is None
    assert result.summary.startswith("No judged queries, so no labelled metrics: on 3 queries")
    assert any("no judged queries" in w for w in result.manifest.warnings)
    assert len(result.worst_regressions()) == 3 and "rbo" in result.worst_regressions().columns
    assert result.scores["relevant"].isna().all() and set(result.histograms()["label"]) == {"all"}


def test_partial_qrels_and_small_eval_sets_are_warned_about(
    shared_ws: Workspace, embedders: dict[str, Embedder]
) -> None:
    queries = {"a": "fluffy rice", "b": "brown crust on steak", "c": "leftover rice safety"}
    qrels = {"a": {"d0001": 2, "x404": 1}, "b": {"d0007": 1}, "c": {"d0024": 1}}
    save_eval_set(shared_ws, EvalSet("partial", DEMO_TABLE, queries, qrels))
    result = compare(
        shared_ws,
        baseline=OLD_MODEL,
        candidate=NEW_MODEL,
        eval_set="partial",
        k=[3],
        metrics=["ndcg@3", "mrr@3"],
        embedders=embedders,
        cutoffs=[0.4],
        store=False,
    )
    warnings = " | ".join(result.manifest.warnings)
    assert "1 of 4 relevant documents in the qrels are not in the table" in warnings
    assert "with 3 judged queries only ndcg@3 differences larger than" in warnings or (
        abs(result.deltas.loc["ndcg@3", "delta"]) >= result.deltas.loc["ndcg@3", "mde"]
    )
    assert list(result.thresholds["old_cutoff"]) == [0.4] and result.manifest.depth == 3
