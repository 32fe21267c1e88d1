"""Exact search of one column: the streamed scan, LanceDB's flat search and the numpy reference
agree, and rankings follow trec_eval's order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.errors import DimensionMismatchError, InvalidArgumentError, MixedIndexError
from workbench.models.catalog import CATALOG
from workbench.models.embedder import Embedder
from workbench.retrieval.encode import embedder_for, encode_queries
from workbench.retrieval.exact import exact_search, rank_hits, read_vectors, scan_search, search_column
from workbench.store.workspace import Workspace, vector_columns

OLD_COL = CATALOG[OLD_MODEL].column
NEW_COL = CATALOG[NEW_MODEL].column


def test_rankings_follow_trec_eval_order_score_then_doc_id_descending() -> None:
    hits = pa.table(
        {
            "query_index": pa.array([0, 0, 0, 1, 1], pa.int64()),
            "id": ["a", "c", "b", "x", "y"],
            "_distance": pa.array([0.5, 0.1, 0.5, 0.2, 0.3], pa.float32()),
        }
    )
    ranked = rank_hits(hits, np.array(["q1", "q2"], dtype=object))
    assert ranked.to_dict("records") == [
        {"query_id": "q1", "rank": 1, "doc_id": "c", "score": pytest.approx(0.9)},
        {"query_id": "q1", "rank": 2, "doc_id": "b", "score": pytest.approx(0.5)},  # a tie: higher id first
        {"query_id": "q1", "rank": 3, "doc_id": "a", "score": pytest.approx(0.5)},
        {"query_id": "q2", "rank": 1, "doc_id": "x", "score": pytest.approx(0.8)},
        {"query_id": "q2", "rank": 2, "doc_id": "y", "score": pytest.approx(0.7)},
    ]


def test_query_ids_must_match_the_vectors(demo_ws: Workspace) -> None:
    table = demo_ws.table(DEMO_TABLE)
    with pytest.raises(InvalidArgumentError, match="2 query ids for 1 query vectors"):
        scan_search(table, OLD_COL, np.zeros((1, 384), np.float32), ["q1", "q2"], k=5)


def test_a_column_is_searched_with_its_own_model_only(
    demo_ws: Workspace, embedders: dict[str, Embedder]
) -> None:
    columns = {c.name: c for c in vector_columns(demo_ws.table(DEMO_TABLE))}
    with pytest.raises(MixedIndexError, match="queries must be encoded by the column's own model"):
        embedder_for(columns[OLD_COL], {OLD_COL: embedders[NEW_COL]})
    own = embedder_for(columns[OLD_COL], embedders)
    assert encode_queries(own, columns[OLD_COL], ["a flat tyre"]).shape == (1, 384)


def test_query_vectors_of_another_dimension_are_refused(
    demo_ws: Workspace, embedders: dict[str, Embedder]
) -> None:
    column = next(c for c in vector_columns(demo_ws.table(DEMO_TABLE)) if c.name == OLD_COL)

    class Short:
        ref = embedders[OLD_COL].ref

        def encode_queries(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
            return np.zeros((len(texts), 7), np.float32)

    with pytest.raises(DimensionMismatchError, match=r"expected \(1, 384\)"):
        encode_queries(Short(), column, ["q"])  # type: ignore[arg-type]


def test_lancedb_batched_search_matches_numpy_exact_search(demo_ws: Workspace) -> None:
    table = demo_ws.table(DEMO_TABLE)
    ids, matrix = read_vectors(table, NEW_COL)
    rng = np.random.default_rng(1)
    vectors = (matrix[:40] + rng.normal(0, 0.05, matrix[:40].shape)).astype(np.float32)
    query_ids = [f"q{i}" for i in range(40)]
    lance = search_column(table, NEW_COL, vectors, query_ids, k=20, batch_size=16)
    numpy = exact_search(ids, matrix, vectors, query_ids, k=20)
    assert list(lance["query_id"]) == list(numpy["query_id"])
    assert (lance["doc_id"].to_numpy() == numpy["doc_id"].to_numpy()).mean() > 0.99
    assert np.allclose(lance["score"], numpy["score"], atol=1e-5)


def test_streamed_scan_matches_numpy_and_lancedb(demo_ws: Workspace) -> None:
    table = demo_ws.table(DEMO_TABLE)
    ids, matrix = read_vectors(table, OLD_COL)
    rng = np.random.default_rng(2)
    vectors = (matrix[:30] + rng.normal(0, 0.05, matrix[:30].shape)).astype(np.float32)
    query_ids = [f"q{i}" for i in range(30)]
    scanned = scan_search(table, OLD_COL, vectors, query_ids, k=15, budget_bytes=1)  # blocks of 256 rows
    numpy = exact_search(ids, matrix, vectors, query_ids, k=15)
    lance = search_column(table, OLD_COL, vectors, query_ids, k=15)
    assert len(scanned) == 30 * 15
    assert (scanned["doc_id"].to_numpy() == numpy["doc_id"].to_numpy()).mean() > 0.99
    assert (scanned["doc_id"].to_numpy() == lance["doc_id"].to_numpy()).mean() > 0.99
    assert np.allclose(scanned["score"], numpy["score"], atol=1e-5)
