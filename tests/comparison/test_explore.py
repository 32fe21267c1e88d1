"""Exploration helpers: time travel, schema diffs, the deliberate mixed search, refusals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from workbench.comparison.mixed import cross_model_cosine, expect_refusal, mixed_search, pairing_table
from workbench.comparison.run import compare
from workbench.comparison.views import comparison_lists, side_by_side
from workbench.contract import candidate_tag
from workbench.demo import DEMO_EVAL_SET, DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.errors import InvalidArgumentError, MixedIndexError, NotFoundError, WorkbenchError
from workbench.metrics.runs import ranking_metrics, run_from_rankings
from workbench.models.catalog import CATALOG
from workbench.store.evalsets import load_eval_set
from workbench.store.versions import columns_frame, previous_version, schema_changes, table_at
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL]
NEW = CATALOG[NEW_MODEL]


class FixedQueries:
    """A stand-in embedder that returns given query vectors (only ``encode_queries`` is used)."""

    def __init__(self, vectors: Sequence[Sequence[float]], ref: object = None) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.ref = ref

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self.vectors[: len(texts)]


def vectors(rows: Sequence[Sequence[float]]) -> pa.FixedSizeListArray:
    flat = pa.array(np.asarray(rows, dtype=np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, len(rows[0]))


@pytest.fixture
def tiny(empty_ws: Workspace):
    """Four documents, two 2-d columns that rank them in opposite orders for the query (1, 0)."""
    data = pa.table(
        {
            "id": ["d1", "d2", "d3", "d4"],
            "title": ["one", "two", "three", "four"],
            "text": ["t1", "t2", "t3", "t4"],
            "a": vectors([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1]]),
            "b": vectors([[0, 1], [0.6, 0.8], [0.8, 0.6], [1, 0]]),
            "c": vectors([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]),
        }
    )
    return empty_ws.db.create_table("tiny", data)


# --- time travel ---------------------------------------------------------------------------


def test_table_at_a_tag_and_the_version_before_it(demo_ws: Workspace) -> None:
    latest = demo_ws.table(DEMO_TABLE)
    tag = candidate_tag(NEW.column)
    at_tag = table_at(demo_ws, DEMO_TABLE, tag)
    before = table_at(demo_ws, DEMO_TABLE, previous_version(latest, tag))
    assert at_tag.version == latest.tags.get_version(tag)
    assert before.version < at_tag.version
    assert NEW.column in at_tag.schema.names
    assert NEW.column not in before.schema.names and OLD.column in before.schema.names
    assert demo_ws.table(DEMO_TABLE).version == latest.version  # other handles stay on the latest


def test_previous_version_skips_gaps_and_stops_at_the_oldest(demo_ws: Workspace) -> None:
    table = demo_ws.table(DEMO_TABLE)
    versions = sorted(v["version"] for v in table.list_versions())
    assert previous_version(table, versions[-1]) == versions[-2]
    with pytest.raises(NotFoundError, match="oldest version"):
        previous_version(table, versions[0])


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("no-such-tag", r"no tag 'no-such-tag'; tags: candidate-"),
        (999, r"no version 999; versions: 1–"),
        (True, "no version True"),
    ],
)
def test_unknown_versions_and_tags_are_refused_with_what_exists(
    demo_ws: Workspace, version: int | str, message: str
) -> None:
    with pytest.raises(NotFoundError, match=message):
        table_at(demo_ws, DEMO_TABLE, version)


def test_columns_frame_names_the_pin_of_each_vector_and_source_column(demo_ws: Workspace) -> None:
    frame = columns_frame(demo_ws.table(DEMO_TABLE)).set_index("column")
    assert frame.loc["id", "kind"] == "data" and pd.isna(frame.loc["id", "dim"])
    assert frame.loc[NEW.column, "kind"] == "vector"
    assert frame.loc[NEW.column, "dim"] == 384
    assert frame.loc[NEW.column, "model"] == NEW.pin
    assert frame.loc[NEW.src_column, "kind"] == "source hash"
    assert frame.loc[NEW.src_column, "model"] == NEW.pin


def test_schema_changes_lists_added_and_removed_columns(demo_ws: Workspace) -> None:
    latest = demo_ws.table(DEMO_TABLE)
    before = table_at(demo_ws, DEMO_TABLE, previous_version(latest, candidate_tag(NEW.column)))
    forward = schema_changes(before, latest).set_index("column")["change"]
    assert set(forward[forward == "added"].index) == {NEW.column, NEW.src_column}
    assert forward["id"] == forward[OLD.column] == "unchanged"
    backward = schema_changes(latest, before).set_index("column")["change"]
    assert set(backward[backward == "removed"].index) == {NEW.column, NEW.src_column}


# --- rankings and metrics ------------------------------------------------------------------


def test_ranking_metrics_scores_a_ranking_frame_with_pytrec_eval() -> None:
    rankings = pd.DataFrame(
        {
            "query_id": ["q1", "q1", "q2"],
            "rank": [1, 2, 1],
            "doc_id": ["a", "b", "c"],
            "score": [0.9, 0.5, 0.7],
        }
    )
    assert run_from_rankings(rankings) == {"q1": {"a": 0.9, "b": 0.5}, "q2": {"c": 0.7}}
    scores = ranking_metrics(rankings, {"q1": {"b": 1}, "q2": {"x": 1}}, ["mrr@10", "hit_rate@1"])
    assert scores.loc["q1"].tolist() == [0.5, 0.0]
    assert scores.loc["q2"].tolist() == [0.0, 0.0]


# --- the mixed search ----------------------------------------------------------------------


def test_mixed_search_runs_whatever_model_made_the_query(tiny) -> None:
    query = FixedQueries([[1, 0]])
    on_a = mixed_search(tiny, column="a", query_embedder=query, queries={"q": "x"}, k=4)
    on_b = mixed_search(tiny, column="b", query_embedder=query, queries={"q": "x"}, k=4)
    assert on_a["doc_id"].tolist() == ["d1", "d2", "d3", "d4"]
    assert on_b["doc_id"].tolist() == ["d4", "d3", "d2", "d1"]
    assert on_a["rank"].tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("fraction", "expected"), [(0.0, ["d1", "d2", "d3", "d4"]), (1.0, ["d4", "d3", "d2", "d1"])]
)
def test_blend_extremes_are_one_column_or_the_other(tiny, fraction: float, expected: list[str]) -> None:
    query = FixedQueries([[1, 0]])
    ranking = mixed_search(
        tiny, column="a", query_embedder=query, queries={"q": "x"}, k=4, mix_with="b", mix_fraction=fraction
    )
    assert ranking["doc_id"].tolist() == expected


def test_half_blend_takes_exactly_half_the_vectors_from_the_other_column(tiny) -> None:
    def half_blend() -> pd.DataFrame:
        return mixed_search(
            tiny,
            column="a",
            query_embedder=FixedQueries([[1, 0]]),
            queries={"q": "x"},
            k=4,
            mix_with="b",
            mix_fraction=0.5,
            seed=3,
        )

    ranking = half_blend()
    scores = dict(zip(ranking["doc_id"], ranking["score"].round(4), strict=True))
    from_a = {"d1": 1.0, "d2": 0.8, "d3": 0.6, "d4": 0.0}
    from_b = {"d1": 0.0, "d2": 0.6, "d3": 0.8, "d4": 1.0}
    assert sum(scores[d] == pytest.approx(from_b[d]) and from_a[d] != from_b[d] for d in scores) == 2
    pd.testing.assert_frame_equal(ranking, half_blend())  # the seed fixes the blend


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"mix_with": "b", "mix_fraction": 1.5}, InvalidArgumentError, r"mix_fraction must be in \[0, 1\]"),
        ({"mix_with": "c"}, InvalidArgumentError, r"cannot blend a \(2-d\) with c \(3-d\)"),
    ],
)
def test_mixed_search_refuses_impossible_blends(tiny, options: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        mixed_search(tiny, column="a", query_embedder=FixedQueries([[1, 0]]), queries={"q": "x"}, **options)


def test_side_by_side_shows_titles_and_marks_relevant_documents(tiny) -> None:
    query = FixedQueries([[1, 0]])
    rankings = {
        "right": mixed_search(tiny, column="a", query_embedder=query, queries={"q": "x"}, k=2),
        "wrong": mixed_search(tiny, column="b", query_embedder=query, queries={"q": "x"}, k=2),
    }
    frame = side_by_side(tiny, rankings, "q", k=3, qrels={"q": {"d1": 2}})
    assert frame.index.tolist() == [1, 2, 3]
    assert frame["right"].tolist() == ["d1 · one  ✓2", "d2 · two", ""]
    assert frame["wrong"].tolist() == ["d4 · four", "d3 · three", ""]


def test_cross_model_cosine_refuses_two_dimensions() -> None:
    small = FixedQueries([[1, 0]], ref=CATALOG[OLD_MODEL].model_copy(update={"dim": 2}))
    with pytest.raises(InvalidArgumentError, match=r"384-d and .* is 2-d"):
        cross_model_cosine(FixedQueries([[1]], ref=OLD), small, ["x"])


@pytest.mark.slow
def test_the_same_text_from_two_models_is_nearly_orthogonal(old_embedder, new_embedder) -> None:
    texts = ["my rice always comes out gluey", "why does my steak turn grey"]
    assert cross_model_cosine(new_embedder, new_embedder, texts) == pytest.approx([1.0, 1.0], abs=1e-5)
    assert (cross_model_cosine(old_embedder, new_embedder, texts) < 0.5).all()


@pytest.mark.slow
def test_pairing_table_shows_mixed_and_half_migrated_indexes_lose_quality(
    demo_ws: Workspace, old_embedder, new_embedder
) -> None:
    eval_set = load_eval_set(demo_ws, DEMO_EVAL_SET)
    table = demo_ws.table(DEMO_TABLE)
    frame, rankings = pairing_table(table, eval_set, old=old_embedder, new=new_embedder, metrics=["ndcg@10"])
    assert frame["kind"].tolist() == [
        "correct",
        "correct",
        "mixed",
        "mixed",
        "half-migrated",
        "half-migrated",
    ]
    ndcg = frame.set_index(["queries", "documents"])["ndcg@10"]
    for side in ("old", "new"):
        assert ndcg[side, side] > ndcg[side, "new" if side == "old" else "old"] + 0.1
        assert ndcg[side, side] > ndcg[side, "half"]
    assert set(rankings) == set(frame["pairing"])
    # the correct pairing is exactly what a comparison measures for that column
    cmp = compare(
        demo_ws,
        baseline=OLD_MODEL,
        candidate=NEW_MODEL,
        eval_set=DEMO_EVAL_SET,
        k=(10,),
        metrics=["ndcg@10"],
        embedders={OLD.column: old_embedder, NEW.column: new_embedder},
        store=False,
    )
    assert ndcg["new", "new"] == pytest.approx(cmp.deltas.loc["ndcg@10", "candidate"], abs=1e-6)
    assert ndcg["old", "old"] == pytest.approx(cmp.deltas.loc["ndcg@10", "baseline"], abs=1e-6)
    lists = comparison_lists(cmp, "q01", k=10)
    assert list(lists.columns) == ["baseline · minilm-l3", "candidate · minilm-l6"]
    assert lists.index.tolist() == list(range(1, 11))
    assert any("✓" in cell for cell in lists["candidate · minilm-l6"])
    with pytest.raises(NotFoundError, match="query 'nope' is not in comparison"):
        comparison_lists(cmp, "nope")


def test_pairing_table_needs_both_models_columns(tiny) -> None:
    eval_set = type("E", (), {"queries": {"q": "x"}, "qrels": {}})()
    with pytest.raises(NotFoundError, match="has no column vec__paraphrase_minilm_l3_v2__"):
        pairing_table(
            tiny, eval_set, old=FixedQueries([[1, 0]], ref=OLD), new=FixedQueries([[1, 0]], ref=NEW)
        )


# --- refusals ------------------------------------------------------------------------------


def test_expect_refusal_keeps_the_error_to_show() -> None:
    with expect_refusal(MixedIndexError) as refused:
        raise MixedIndexError("query model is not the column's pin")
    assert isinstance(refused.error, MixedIndexError)
    assert refused.kind == "MixedIndexError"
    assert str(refused) == "refused — MixedIndexError: query model is not the column's pin"


def test_expect_refusal_accepts_any_workbench_error_by_default() -> None:
    with expect_refusal() as refused:
        raise NotFoundError("no table 'x'")
    assert refused.kind == "NotFoundError"


def test_expect_refusal_fails_loudly_when_nothing_is_refused() -> None:
    with (
        pytest.raises(AssertionError, match="expected the workbench to refuse with MixedIndexError"),
        expect_refusal(MixedIndexError),
    ):
        pass


def test_expect_refusal_lets_other_errors_through() -> None:
    with pytest.raises(NotFoundError), expect_refusal(MixedIndexError):
        raise NotFoundError("a different refusal")
    with pytest.raises(KeyError), expect_refusal():
        raise KeyError("not a workbench error")
    assert issubclass(MixedIndexError, WorkbenchError)
