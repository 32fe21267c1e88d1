"""Ingest: a corpus and its eval set written in one go, or nothing written at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import shared_collection
from tests.corpus.test_readers import DOCS, QUERIES, write_beir
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import DataError, InvalidArgumentError
from workbench.models.catalog import CATALOG
from workbench.store.evalsets import list_eval_sets, load_eval_set
from workbench.store.status import column_health
from workbench.store.workspace import Workspace


def test_ingest_beir_creates_table_and_eval_set(empty_ws: Workspace, tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "mini", DOCS, QUERIES, "q1\ta\t2\n")
    result = ingest(empty_ws, folder)
    assert (result.table, result.rows_total, result.eval_set, result.n_judged) == ("mini", 2, "mini", 1)
    assert empty_ws.table("mini").count_rows() == 2
    evalset = load_eval_set(empty_ws, "mini")
    assert evalset.qrels == {"q1": {"a": 2}}
    assert evalset.judged_queries == ["q1"]
    assert len(evalset.content_hash) == 64


@pytest.mark.parametrize(
    "breakage",
    [
        lambda f: (f / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n'),
        lambda f: (f / "qrels" / "test.tsv").write_text("q1\tnot-a-doc\t1\n"),
        lambda f: (f / "queries.jsonl").write_text('{"_id": "q1", "text": \n'),
    ],
    ids=["duplicate-id", "unknown-doc-in-qrels", "malformed-queries"],
)
def test_bad_input_writes_nothing(empty_ws: Workspace, tmp_path: Path, breakage) -> None:
    folder = write_beir(tmp_path / "mini", DOCS, QUERIES, "q1\ta\t2\n")
    breakage(folder)
    with pytest.raises(DataError):
        ingest(empty_ws, folder)
    assert empty_ws.table_names(include_internal=True) == []


def test_reserved_and_invalid_table_names_are_refused(empty_ws: Workspace, tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "mini", DOCS, QUERIES, None)
    for name in ("wb_comparisons", "has space", "../up"):
        with pytest.raises(InvalidArgumentError, match="is not allowed"):
            ingest(empty_ws, folder, table=name)
    assert empty_ws.table_names(include_internal=True) == []


@pytest.mark.slow
def test_reingest_updates_only_changed_rows_and_dual_writes(
    empty_ws: Workspace, tmp_path: Path, old_embedder
) -> None:
    folder = write_beir(tmp_path / "mini", DOCS, QUERIES, None)
    ingest(empty_ws, folder)
    embed(empty_ws, "mini", CATALOG["minilm-l3"], embedder=old_embedder)
    unchanged = ingest(empty_ws, folder, embedders={old_embedder.ref.column: old_embedder})
    assert (unchanged.rows_added, unchanged.rows_updated) == (0, 0)
    docs = [{"_id": "a", "text": "alpha, revised"}, DOCS[1], {"_id": "c", "text": "gamma"}]
    write_beir(folder, docs, QUERIES, None)
    result = ingest(empty_ws, folder, embedders={old_embedder.ref.column: old_embedder})
    assert (result.rows_added, result.rows_updated, result.rows_total) == (1, 1, 3)
    assert result.columns_refreshed == (old_embedder.ref.column,)
    assert column_health(empty_ws.table("mini")) == {old_embedder.ref.column: (0, 0)}


@pytest.mark.slow
def test_scifact_slice_ingests_and_embeds(empty_ws: Workspace, tmp_path: Path, old_embedder) -> None:
    source = shared_collection("scifact")
    qrels_lines = (source / "qrels" / "test.tsv").read_text().splitlines()[1:41]
    judged = [line.split("\t") for line in qrels_lines]
    doc_ids = {d for _, d, _ in judged}
    query_ids = {q for q, _, _ in judged}
    docs = [json.loads(line) for line in (source / "corpus.jsonl").read_text().splitlines()]
    keep = [d for d in docs if d["_id"] in doc_ids] + [d for d in docs if d["_id"] not in doc_ids][:160]
    queries = [json.loads(line) for line in (source / "queries.jsonl").read_text().splitlines()]
    write_beir(
        tmp_path / "scifact-slice",
        keep,
        [q for q in queries if q["_id"] in query_ids],
        "query-id\tcorpus-id\tscore\n" + "\n".join(qrels_lines) + "\n",
    )
    result = ingest(empty_ws, tmp_path / "scifact-slice")
    assert result.rows_total == len(keep) and result.n_judged == len(query_ids)
    done = embed(empty_ws, result.table, CATALOG["minilm-l3"], embedder=old_embedder)
    assert done.rows == len(keep)
    assert column_health(empty_ws.table(result.table)) == {done.column: (0, 0)}
    assert [e["name"] for e in list_eval_sets(empty_ws)] == ["scifact-slice"]
