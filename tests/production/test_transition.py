"""Transition search: both models, each over its own rows, merged without mixing spaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_collection
from tests.progressive_helpers import small_progressive_ws
from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.embedding.progressive import embed_progressive
from workbench.embedding.run import embed
from workbench.errors import InvalidArgumentError
from workbench.production.promote import promote
from workbench.production.transition import TransitionIndex
from workbench.retrieval.fusion import RRF_K, Calibration, fuse
from workbench.store.workspace import Workspace, open_workspace

QUERIES = ["how do I roll back a release", "bike gears skipping", "bread dough rising", "git commit message"]


def test_rrf_of_disjoint_lists_interleaves_new_first_and_never_repeats() -> None:
    merged = fuse(["n1", "n2"], [0.9, 0.8], ["o1", "o2", "n1"], [0.5, 0.4, 0.3], k=10)
    assert [f.id for f in merged] == ["n1", "o1", "n2", "o2"]
    assert [f.source for f in merged] == ["new", "old", "new", "old"]
    assert merged[0].score == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 3))  # in both lists: summed
    assert len({f.id for f in merged}) == len(merged)


@pytest.mark.parametrize("merge", ["rrf", "calibrated"])
def test_one_empty_list_gives_the_other_list_exactly(merge: str) -> None:
    calibration = Calibration.from_neighbours(np.array([0.2, 0.3, 0.5]), np.array([0.1, 0.9]))
    ids, scores = ["a", "b", "c", "d"], [0.99, 0.98, 0.4, 0.05]  # two above, one below the sample
    for new, old in (((ids, scores), ([], [])), (([], []), (ids, scores))):
        merged = fuse(*new, *old, k=3, merge=merge, calibration=calibration)
        assert [f.id for f in merged] == ids[:3]


def test_calibrated_merge_compares_quantiles_not_cosines() -> None:
    # the old model's scores run higher: raw cosines would put every old hit first
    calibration = Calibration.from_neighbours(np.linspace(0.1, 0.5, 50), np.linspace(0.5, 0.9, 50))
    merged = fuse(["n"], [0.45], ["o"], [0.6], k=2, merge="calibrated", calibration=calibration)
    assert [(f.id, f.source) for f in merged] == [("n", "new"), ("o", "old")]
    assert merged[0].cosine == pytest.approx(0.45)


def test_an_unknown_merge_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown merge 'mean'; merges: rrf, calibrated"):
        fuse([], [], [], [], k=1, merge="mean")


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def numpy_transition(
    ws: Workspace, embedders, query: str, *, k: int, table: str = DEMO_TABLE
) -> list[tuple[str, str]]:
    """An independent RRF merge from both columns with numpy: ``[(id, "new"|"old")]``."""
    old, new = ws.model(OLD_MODEL), ws.model(NEW_MODEL)
    rows = ws.dataset(table).to_table(columns=["id", "content_hash", old.column, new.column, new.src_column])
    ids = np.array(rows.column("id").to_pylist())
    covered = np.array(
        [
            s == h
            for s, h in zip(
                rows.column(new.src_column).to_pylist(), rows.column("content_hash").to_pylist(), strict=True
            )
        ]
    )
    lists = {}
    for name, ref, mask in (("new", new, covered), ("old", old, ~covered)):
        if not mask.any():
            lists[name] = []
            continue
        matrix = _unit(np.array(rows.column(ref.column).filter(mask.tolist()).to_pylist(), dtype=np.float32))
        q = _unit(embedders[ref.column].encode_queries([query]).astype(np.float32))[0]
        sims = matrix @ q
        order = np.argsort(-sims, kind="stable")[:k]
        lists[name] = list(ids[mask][order])
    scored = [(1 / (RRF_K + r), 0, r, d, "new") for r, d in enumerate(lists["new"], 1)]
    scored += [(1 / (RRF_K + r), 1, r, d, "old") for r, d in enumerate(lists["old"], 1)]
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [(d, s) for _, _, _, d, s in scored[:k]]


def _served(index: TransitionIndex, query: str, k: int) -> list[tuple[str, str]]:
    result = index.search(query, k=k)
    return [(h.id, "new" if h.column == index.new.name else "old") for h in result.hits]


@pytest.mark.slow
def test_transition_search_from_0_to_100_percent(
    demo_template: Path, tmp_path: Path, embedders, new_embedder
) -> None:
    ws = small_progressive_ws(demo_template, tmp_path / "ws", rows=60)
    new = ws.model(NEW_MODEL)
    embed_progressive(ws, DEMO_TABLE, new, embedder=new_embedder, budget_rows=0)
    index = TransitionIndex.open(ws, DEMO_TABLE, NEW_MODEL, embedders=embedders)
    assert index.coverage.embedded == 0 and index.old.name == ws.model(OLD_MODEL).column
    for query in QUERIES:  # 0 %: exactly the old column
        assert _served(index, query, 8) == numpy_transition(ws, embedders, query, k=8)
        assert {c for _, c in _served(index, query, 8)} == {"old"}

    embed_progressive(ws, DEMO_TABLE, new, embedder=new_embedder, budget_rows=30, batch_size=30)
    index = TransitionIndex.open(ws, DEMO_TABLE, NEW_MODEL, embedders=embedders)
    assert index.coverage.share == pytest.approx(0.5)
    for query in QUERIES:  # 50 %: the independent merge, ids and order
        served = _served(index, query, 8)
        assert served == numpy_transition(ws, embedders, query, k=8)
        assert {c for _, c in served} == {"new", "old"}
    calibrated = TransitionIndex.open(ws, DEMO_TABLE, NEW_MODEL, merge="calibrated", embedders=embedders)
    assert calibrated.calibration.new.size > 0
    result = calibrated.search(QUERIES[0], k=8)
    assert len({h.id for h in result.hits}) == 8 and result.coverage == pytest.approx(0.5)
    assert all(h.model in (new.pin, ws.model(OLD_MODEL).pin) for h in result.hits)

    embed(ws, DEMO_TABLE, new, embedder=new_embedder)
    index = TransitionIndex.open(ws, DEMO_TABLE, NEW_MODEL, embedders=embedders)
    for query in QUERIES:  # 100 %: exactly the new column
        assert {c for _, c in _served(index, query, 8)} == {"new"}
        assert _served(index, query, 8) == numpy_transition(ws, embedders, query, k=8)


def test_transition_refuses_the_same_column_twice_and_a_bad_scope(demo_ws: Workspace, embedders) -> None:
    with pytest.raises(InvalidArgumentError, match="both"):
        TransitionIndex.open(demo_ws, DEMO_TABLE, OLD_MODEL, embedders=embedders)
    with pytest.raises(InvalidArgumentError, match="unknown old scope 'some'"):
        TransitionIndex.open(demo_ws, DEMO_TABLE, NEW_MODEL, old_scope="some", embedders=embedders)


@pytest.mark.slow
def test_transition_search_equals_a_numpy_merge_on_scifact_at_50_percent(
    tmp_path: Path, embedders, old_embedder, new_embedder
) -> None:
    """SciFact's first 1,500 documents (a slice keeps CI short): old column whole in production,
    the new one embedded to 50 %; 50 SciFact queries."""
    import json

    source = shared_collection("scifact")
    lines = (source / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:1500]
    (tmp_path / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ws = open_workspace(tmp_path / "ws")
    ingest(ws, tmp_path / "corpus.jsonl", table="scifact")
    embed(ws, "scifact", ws.model(OLD_MODEL), embedder=old_embedder, batch_size=512)
    promote(ws, "scifact", OLD_MODEL, initial=True)
    half = ws.table("scifact").count_rows() // 2
    embed_progressive(
        ws, "scifact", ws.model(NEW_MODEL), embedder=new_embedder, budget_rows=half, batch_size=512
    )
    index = TransitionIndex.open(ws, "scifact", NEW_MODEL, embedders=embedders)
    assert index.coverage.embedded == half
    query_lines = (source / "queries.jsonl").read_text(encoding="utf-8").splitlines()[:50]
    queries = [json.loads(line)["text"] for line in query_lines]
    for query in queries:  # same ids, same order
        assert _served(index, query, 10) == numpy_transition(ws, embedders, query, k=10, table="scifact")
