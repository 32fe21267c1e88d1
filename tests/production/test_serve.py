"""Serving from production: the mixed-index guards, start-up check, pinned views and following."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tests.conftest import write_corpus
from workbench.contract import META_ACTIVE, PRODUCTION_TAG
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import (
    CorruptStateError,
    InvalidArgumentError,
    LifecycleError,
    MixedIndexError,
    StaleColumnError,
)
from workbench.models.catalog import CATALOG
from workbench.models.sources.local import pin_directory
from workbench.models.sources.package import package_model_dir
from workbench.production.promote import promote, rollback
from workbench.production.serving import ProductionIndex, check, search
from workbench.retrieval.exact import exact_search, read_vectors
from workbench.store.production import production
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
QUERY = "how do I undo a bad model release?"


def test_search_uses_the_production_column_and_its_own_model(
    compared_ws: Workspace, comparison_id: str, embedders
) -> None:
    before = search(compared_ws, QUERY, k=5, embedder=embedders[OLD])
    assert (before.column, before.table, len(before.hits)) == (OLD, "demo", 5)
    assert before.model == CATALOG[OLD_MODEL].pin
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    after = search(compared_ws, QUERY, k=5, embedder=embedders[NEW])
    assert after.column == NEW and after.version == production(compared_ws.table("demo")).version
    assert [h.rank for h in after.hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(after.hits, after.hits[1:], strict=False))


def test_search_equals_exact_cosine_search_of_the_production_column(demo_ws: Workspace, embedders) -> None:
    result = search(demo_ws, QUERY, k=10, embedder=embedders[OLD])
    table = demo_ws.table("demo")
    table.checkout(PRODUCTION_TAG)
    ids, matrix = read_vectors(table, OLD)
    vector = embedders[OLD].encode_queries([QUERY])
    expected = exact_search(ids, matrix, vector, ["q"], k=10)
    assert [h.id for h in result.hits] == expected["doc_id"].tolist()
    np.testing.assert_allclose([h.score for h in result.hits], expected["score"], atol=1e-5)
    assert result.hits[0].title and result.hits[0].text


def test_search_loads_and_verifies_the_pinned_model_itself(demo_ws: Workspace) -> None:
    assert search(demo_ws, QUERY, k=1).hits[0].id


@pytest.mark.parametrize(("query", "k"), [("", 10), ("   \n", 10), (QUERY, 0), (QUERY, -3)])
def test_empty_query_or_bad_k_is_refused(demo_ws: Workspace, query: str, k: int) -> None:
    with pytest.raises(InvalidArgumentError, match=r"the query is empty|k must be a positive integer"):
        search(demo_ws, query, k=k)


def test_another_model_is_refused(demo_ws: Workspace, embedders) -> None:
    with pytest.raises(
        MixedIndexError, match=r"the embedder given for vec__paraphrase.* is .*all-MiniLM-L6-v2"
    ):
        search(demo_ws, QUERY, embedder=embedders[NEW])


@pytest.mark.slow
def test_model_files_that_changed_under_the_pin_are_refused(empty_ws: Workspace, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(package_model_dir(CATALOG[NEW_MODEL].location), model_dir)
    ref = pin_directory(model_dir, name="local-l6", revision="r1")
    empty_ws.add_model("local", ref)
    ingest(
        empty_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha"), "b": ("B", "beta")}), table="tiny"
    )
    embed(empty_ws, "tiny", ref)
    promote(empty_ws, "tiny", "local", initial=True)
    assert search(empty_ws, "alpha", table="tiny", k=1).hits[0].id == "a"
    config = model_dir / "tokenizer_config.json"
    config.write_text(config.read_text() + "\n")  # same name, different files
    with pytest.raises(MixedIndexError, match=r"refusing to serve vec__local_l6_.*the pin says"):
        search(empty_ws, "alpha", table="tiny")
    report = check(empty_ws, "tiny")
    assert not report.ok and "refusing to serve" in report.problems[0]


def test_stale_rows_at_production_are_refused(demo_ws: Workspace, embedders) -> None:
    table = demo_ws.table("demo")
    table.update(where="id = 'd0001'", values={"content_hash": "edited-outside-the-workbench"})
    table.tags.update(PRODUCTION_TAG, table.version)  # a tag moved by hand onto a stale version
    with pytest.raises(StaleColumnError, match=r"0 rows without a vector and 1 vectors of outdated text"):
        search(demo_ws, QUERY, embedder=embedders[OLD])
    report = check(demo_ws, embedder=embedders[OLD])
    assert not report.ok and len(report.problems) == 1
    assert any("tag was moved outside the workbench" in note for note in report.notes)


def test_missing_vectors_at_production_are_refused(demo_ws: Workspace, embedders) -> None:
    table = demo_ws.table("demo")
    row = {name: [None] for name in table.schema.names}
    row.update(id=["orphan"], title=["t"], text=["added without vectors"], content_hash=["h"])
    table.add(pa.Table.from_pydict(row, schema=table.schema))
    table.tags.update(PRODUCTION_TAG, table.version)
    with pytest.raises(StaleColumnError, match="1 rows without a vector"):
        ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD])


def test_active_column_missing_from_the_version_is_refused(demo_ws: Workspace) -> None:
    table = demo_ws.table("demo")
    table.to_lance().update_schema_metadata({META_ACTIVE: "vec__gone__00000000"})
    table.checkout_latest()
    table.tags.update(PRODUCTION_TAG, table.version)
    with pytest.raises(CorruptStateError, match=r"names active column 'vec__gone__00000000', which is not"):
        search(demo_ws, QUERY)


def test_no_production_tag(demo_ws: Workspace, tmp_path: Path) -> None:
    ingest(demo_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha")}), table="fresh")
    with pytest.raises(LifecycleError, match=r"table 'fresh' has no 'production' tag"):
        search(demo_ws, "alpha", table="fresh")
    report = check(demo_ws, "fresh")
    assert (report.ok, report.version, report.column) == (False, None, None)
    assert "no 'production' tag" in report.problems[0]


def test_check_passes_and_notes_unserved_documents(demo_ws: Workspace, embedders, tmp_path: Path) -> None:
    report = check(demo_ws, embedder=embedders[OLD])
    assert report.ok and report.column == OLD and report.notes == ()
    assert report.to_dict()["ok"] is True
    ingest(
        demo_ws, write_corpus(tmp_path / "n.jsonl", {"n1": ("N", "new")}), table="demo", embedders=embedders
    )
    report = check(demo_ws, embedder=embedders[OLD])
    assert report.ok
    assert report.notes == (
        f"production is v{report.version}, the latest version is v{demo_ws.table('demo').version} with "
        "other documents: they are not served until `workbench refresh`",
    )


@pytest.mark.slow
def test_an_open_index_keeps_its_view_and_follows_on_request(
    compared_ws: Workspace, comparison_id: str, embedders
) -> None:
    index = ProductionIndex.open(compared_ws, "demo", embedder=embedders[OLD])
    first = index.search(QUERY, k=5)
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    assert index.search(QUERY, k=5) == first  # the handle does not follow a moved tag
    followed = index.follow()
    assert followed is not index and followed.column.name == NEW
    assert followed.search(QUERY, k=5).column == NEW
    assert followed.follow() is followed
    rollback(compared_ws, "demo")
    back = followed.follow()
    assert back.version == index.version and back.search(QUERY, k=5).hits == first.hits
    assert "ProductionIndex('demo'" in repr(back)
