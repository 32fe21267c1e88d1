"""A live two-sided query: each side encoded by its own column's model, in the drill-down's shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.comparison.test_compare import Recording
from workbench.comparison.live import agreement, query_both
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.errors import InvalidArgumentError, MixedIndexError, NotFoundError
from workbench.models.catalog import CATALOG
from workbench.retrieval.encode import encode_queries
from workbench.retrieval.exact import search_column
from workbench.store.comparisons import DRILLDOWN_COLUMNS, load_comparison
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
QUERY = "how do I undo my last commit"


def _expected(ws: Workspace, embedders: dict, column: str, k: int) -> list[str]:
    table = ws.table("demo")
    vc = ws.resolve_column(table, column)
    vectors = encode_queries(embedders[column], vc, [QUERY])
    return search_column(table, column, vectors, ["q"], k=k)["doc_id"].tolist()


@pytest.mark.slow
def test_each_side_is_encoded_by_its_own_columns_model(demo_ws: Workspace, embedders: dict) -> None:
    spies = {name: Recording(embedder) for name, embedder in embedders.items()}
    frame = query_both(
        demo_ws, "demo", f"  {QUERY} ", baseline=OLD_MODEL, candidate=NEW, k=10, embedders=spies
    )
    assert spies[OLD].queries == [QUERY] and spies[NEW].queries == [QUERY]
    assert list(frame.columns) == DRILLDOWN_COLUMNS
    for side, column in (("baseline", OLD), ("candidate", NEW)):
        top = frame[frame[f"{side}_rank"].le(10).fillna(False)].sort_values(f"{side}_rank")
        assert top["doc_id"].tolist() == _expected(demo_ws, embedders, column, 10)
        assert top[f"{side}_score"].is_monotonic_decreasing
    assert frame["grade"].isna().all() and (frame["title"] != "").all()
    assert set(frame["status"]) <= {"kept", "entered", "left"}


def test_a_document_that_left_the_top_k_keeps_its_deeper_rank(demo_ws: Workspace, embedders: dict) -> None:
    frame = query_both(
        demo_ws, "demo", QUERY, baseline=OLD, candidate=NEW, k=3, depth=50, embedders=embedders
    )
    left = frame[frame["status"] == "left"]
    assert len(left) and (left["candidate_rank"].isna() | (left["candidate_rank"] > 3)).all()
    assert frame["baseline_rank"].max() <= 50


def test_an_embedder_of_another_model_is_refused(demo_ws: Workspace, embedders: dict) -> None:
    swapped = {OLD: embedders[NEW], NEW: embedders[OLD]}
    with pytest.raises(MixedIndexError, match=f"the embedder given for {OLD} is .*queries must be encoded"):
        query_both(demo_ws, "demo", QUERY, baseline=OLD, candidate=NEW, embedders=swapped)


@pytest.mark.parametrize(
    ("query", "options", "error", "match"),
    [
        ("   ", {}, InvalidArgumentError, "the query is empty"),
        (QUERY, {"k": 0}, InvalidArgumentError, "k must be a positive integer, got 0"),
        (QUERY, {"candidate": OLD_MODEL}, InvalidArgumentError, f"the same column \\({OLD}\\)"),
        (QUERY, {"candidate": "nope"}, NotFoundError, "no vector column 'nope'"),
    ],
    ids=["empty", "k", "same-column", "unknown-column"],
)
def test_bad_input_is_refused(
    demo_ws: Workspace, embedders: dict, query: str, options: dict, error: type[Exception], match: str
) -> None:
    args = {"baseline": OLD, "candidate": NEW, **options}
    with pytest.raises(error, match=match):
        query_both(demo_ws, "demo", query, embedders=embedders, **args)


def test_agreement_matches_the_comparisons_own_rank_shift_numbers(
    compared_ws: Workspace, comparison_id: str
) -> None:
    cmp = load_comparison(compared_ws, comparison_id)
    k = cmp.manifest.shift_k
    for _, row in cmp.per_query.head(8).iterrows():
        found = agreement(cmp.drilldown(row["query_id"]), k=k)
        assert found.overlap == pytest.approx(row[f"overlap@{k}"])
        assert found.rbo == pytest.approx(row["rbo"])
        top = cmp.rankings[(cmp.rankings["query_id"] == row["query_id"]) & (cmp.rankings["rank"] == 1)]
        assert found.baseline_top_score == pytest.approx(top[top["side"] == "baseline"]["score"].iloc[0])
        assert found.candidate_top_score == pytest.approx(top[top["side"] == "candidate"]["score"].iloc[0])


def test_agreement_of_identical_and_empty_lists() -> None:
    same = pd.DataFrame(
        {
            "doc_id": ["a", "b"],
            "baseline_rank": pd.array([1, 2], dtype="Int64"),
            "baseline_score": [0.9, 0.8],
            "candidate_rank": pd.array([1, 2], dtype="Int64"),
            "candidate_score": [0.7, 0.6],
        }
    )
    found = agreement(same, k=2)
    assert (found.overlap, found.rbo, found.baseline_top_score, found.candidate_top_score) == (
        1.0,
        1.0,
        0.9,
        0.7,
    )
    empty = agreement(same.iloc[:0], k=2)
    assert empty.overlap == 0.0 and np.isnan(empty.baseline_top_score)
