"""The leaderboard: N candidates on the demo eval set, CIs, Holm-corrected pairs, cost, advice."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from workbench.comparison.run import compare
from workbench.decide.leaderboard import leaderboard
from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.embedding.run import embed
from workbench.errors import InvalidArgumentError, NotFoundError
from workbench.models.catalog import CATALOG
from workbench.models.sources.local import SentenceTransformerEmbedder
from workbench.models.truncate import truncated_pin
from workbench.store.evalsets import EvalSet, load_eval_set, save_eval_set
from workbench.store.workspace import Workspace, open_workspace

TRUNCATED = truncated_pin(CATALOG[NEW_MODEL], 64)


@pytest.fixture(scope="module")
def three_template(demo_template: Path, new_embedder: SentenceTransformerEmbedder, tmp_path_factory) -> Path:
    """The demo plus a third column: minilm-l6 truncated to 64 dimensions, pinned as its own model."""
    path = tmp_path_factory.mktemp("three") / "ws"
    shutil.copytree(demo_template, path)
    ws = open_workspace(path)
    ws.add_model("minilm-l6-d64", TRUNCATED)
    embed(ws, DEMO_TABLE, TRUNCATED, embedder=SentenceTransformerEmbedder(TRUNCATED, new_embedder.model))
    return path


@pytest.fixture
def three_ws(three_template: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(three_template, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


@pytest.fixture
def all_embedders(embedders, new_embedder) -> dict:
    return {**embedders, TRUNCATED.column: SentenceTransformerEmbedder(TRUNCATED, new_embedder.model)}


@pytest.mark.slow
def test_three_candidates_ranked_with_intervals_and_holm(three_ws: Workspace, all_embedders: dict) -> None:
    version = three_ws.table(DEMO_TABLE).version
    board = leaderboard(
        three_ws, eval_set="demo", embedders=all_embedders, baseline=OLD_MODEL, throughput_sample=16
    )
    rows = board.rows
    assert set(rows["label"]) == {OLD_MODEL, NEW_MODEL, "minilm-l6-d64"}
    assert rows["ndcg@10"].is_monotonic_decreasing
    assert (rows["ndcg@10_ci_low"] <= rows["ndcg@10"]).all() and (
        rows["ndcg@10"] <= rows["ndcg@10_ci_high"]
    ).all()
    assert dict(zip(rows["label"], rows["bytes_per_vector"], strict=True))["minilm-l6-d64"] == 256
    assert (rows["query_ms"] > 0).all() and (rows["embed_docs_per_s"] > 0).all()
    # 3 pairs x 2 metrics; Holm never lowers a p-value and keeps the order within a metric.
    assert len(board.pairs) == 6
    assert (board.pairs["p_holm"] >= board.pairs["p"] - 1e-12).all()
    assert board.n_judged == len(load_eval_set(three_ws, "demo").judged_queries)
    assert three_ws.table(DEMO_TABLE).version == version  # nothing written


@pytest.mark.slow
def test_full_column_agrees_with_compare(demo_ws: Workspace, embedders: dict) -> None:
    board = leaderboard(demo_ws, eval_set="demo", embedders=embedders, throughput_sample=0)
    cmp = compare(
        demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders, store=False
    )
    by_label = board.rows.set_index("label")
    assert by_label.loc[NEW_MODEL, "ndcg@10"] == pytest.approx(cmp.deltas.loc["ndcg@10", "candidate"])
    assert by_label.loc[OLD_MODEL, "recall@100"] == pytest.approx(cmp.deltas.loc["recall@100", "baseline"])
    assert math.isnan(by_label.loc[NEW_MODEL, "embed_docs_per_s"])  # not measured when the sample is 0


@pytest.mark.slow
def test_recommendation_follows_the_evidence(demo_ws: Workspace, embedders: dict) -> None:
    board = leaderboard(
        demo_ws, eval_set="demo", models=[OLD_MODEL, NEW_MODEL], embedders=embedders, throughput_sample=0
    )
    best = board.rows.iloc[0]["label"]
    pair = board.pairs[board.pairs["metric"] == "ndcg@10"].iloc[0]
    if best != OLD_MODEL and pair["significant"] and abs(pair["delta"]) >= 0.01:
        assert board.recommendation.startswith(f"Migrate to {best}")
    else:
        assert board.recommendation.startswith("Stay put")
    huge = leaderboard(
        demo_ws,
        eval_set="demo",
        models=[OLD_MODEL, NEW_MODEL],
        embedders=embedders,
        throughput_sample=0,
        min_gain=0.9,
    )
    assert huge.recommendation.startswith("Stay put") and (
        "below the minimum of 0.9" in huge.recommendation or best == OLD_MODEL
    )
    as_base = leaderboard(demo_ws, eval_set="demo", baseline=best, embedders=embedders, throughput_sample=0)
    assert (
        as_base.recommendation
        == f"Stay put: {best} is the best candidate on ndcg@10 ({board.rows.iloc[0]['ndcg@10']:.3f})."
    )


def test_unknown_price_is_empty_not_zero(demo_ws: Workspace, embedders: dict) -> None:
    board = leaderboard(
        demo_ws, eval_set="demo", embedders=embedders, throughput_sample=0, prices={NEW_MODEL: 0.02}
    )
    by_label = board.rows.set_index("label")
    assert by_label.loc[NEW_MODEL, "price_per_million"] == 0.02
    assert 0 < by_label.loc[NEW_MODEL, "corpus_cost"] < 1  # a few tens of thousands of tokens
    assert math.isnan(by_label.loc[OLD_MODEL, "price_per_million"]) and math.isnan(
        by_label.loc[OLD_MODEL, "corpus_cost"]
    )


def test_too_few_judged_queries_names_the_minimum(demo_ws: Workspace, embedders: dict) -> None:
    demo = load_eval_set(demo_ws, "demo")
    few = dict(list(demo.qrels.items())[:3])
    save_eval_set(demo_ws, EvalSet("few", DEMO_TABLE, {q: demo.queries[q] for q in few}, few))
    with pytest.raises(InvalidArgumentError, match=r"has 3 judged queries; .* need at least 10"):
        leaderboard(demo_ws, eval_set="few", embedders=embedders)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"models": [NEW_MODEL]}, InvalidArgumentError, "at least two candidate columns, got 1"),
        ({"models": [NEW_MODEL, NEW_MODEL]}, InvalidArgumentError, "repeat a model"),
        ({"models": [NEW_MODEL, "nope"]}, NotFoundError, "no vector column 'nope'"),
        ({"baseline": "nope"}, InvalidArgumentError, "baseline 'nope' is not one of the candidates"),
        ({"metrics": ["ndcg@0"]}, InvalidArgumentError, "cutoff"),
        ({"min_gain": -1}, InvalidArgumentError, "min_gain >= 0"),
    ],
)
def test_bad_input_is_refused(
    demo_ws: Workspace, embedders: dict, kwargs: dict, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        leaderboard(demo_ws, eval_set="demo", embedders=embedders, throughput_sample=0, **kwargs)
