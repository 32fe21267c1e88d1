"""Dual-write: ingesting into a table with vector columns embeds new and changed documents with
every column's own pinned model, in one version, and leaves everything else untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_corpus
from workbench.contract import document_text
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import MixedIndexError, ModelNotFoundError
from workbench.models.catalog import CATALOG
from workbench.models.sources.local import pin_directory
from workbench.models.sources.package import package_model_dir
from workbench.store.status import column_health, table_status
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
CHANGES = {
    "d0001": ("Cooking rice", "Rinse the rice, boil it in salted water, drain it."),  # changed text
    "z0001": ("Zebra sleep", "Zebras mostly sleep standing up, in short bouts."),  # new document
}


def _vectors(ws: Workspace, ids: list[str]) -> dict[str, dict[str, np.ndarray]]:
    data = ws.table("demo").to_lance().to_table(columns=["id", OLD, NEW]).to_pylist()
    return {
        r["id"]: {c: np.asarray(r[c], dtype=np.float32) for c in (OLD, NEW)} for r in data if r["id"] in ids
    }


def test_changed_and_new_documents_are_embedded_by_each_columns_own_model(
    demo_ws: Workspace, embedders, tmp_path: Path
) -> None:
    untouched = _vectors(demo_ws, ["d0002", "d0100"])
    version = demo_ws.table("demo").version
    result = ingest(demo_ws, write_corpus(tmp_path / "c.jsonl", CHANGES), table="demo", embedders=embedders)
    assert (result.rows_added, result.rows_updated, result.rows_total) == (1, 1, 433)
    assert set(result.columns_refreshed) == {OLD, NEW}
    assert result.version == version + 1  # one merge_insert: both columns in the same version
    assert column_health(demo_ws.table("demo")) == {OLD: (0, 0), NEW: (0, 0)}
    written = _vectors(demo_ws, list(CHANGES))
    for doc_id, (title, text) in CHANGES.items():
        for column in (OLD, NEW):
            own = embedders[column].encode_documents([document_text(title, text)])[0]
            np.testing.assert_allclose(written[doc_id][column], own, atol=1e-5)
        other = embedders[NEW].encode_documents([document_text(title, text)])[0]
        assert not np.allclose(written[doc_id][OLD], other, atol=1e-3)  # never the other space
    after = _vectors(demo_ws, ["d0002", "d0100"])
    for doc_id in untouched:
        for column in (OLD, NEW):
            np.testing.assert_array_equal(after[doc_id][column], untouched[doc_id][column])


def test_reingesting_the_same_documents_writes_nothing(demo_ws: Workspace, embedders, tmp_path: Path) -> None:
    path = write_corpus(tmp_path / "c.jsonl", CHANGES)
    ingest(demo_ws, path, table="demo", embedders=embedders)
    version = demo_ws.table("demo").version
    again = ingest(demo_ws, path, table="demo", embedders=embedders)
    assert (again.rows_added, again.rows_updated, again.columns_refreshed) == (0, 0, ())
    assert demo_ws.table("demo").version == version


def test_status_reports_stale_rows_per_column_and_ingest_repairs_them(
    demo_ws: Workspace, embedders, tmp_path: Path
) -> None:
    table = demo_ws.table("demo")
    original = table.to_lance().to_table(filter="id = 'd0003'").to_pylist()[0]
    table.update(where="id = 'd0003'", values={"content_hash": "edited-outside-the-workbench"})
    assert column_health(demo_ws.table("demo")) == {OLD: (0, 1), NEW: (0, 1)}
    columns = {c.name: c for c in table_status(demo_ws.table("demo")).columns}
    assert (columns[OLD].stale_rows, columns[NEW].stale_rows, columns[OLD].missing_rows) == (1, 1, 0)
    docs = {"d0003": (original["title"], original["text"])}
    ingest(demo_ws, write_corpus(tmp_path / "fix.jsonl", docs), table="demo", embedders=embedders)
    assert column_health(demo_ws.table("demo")) == {OLD: (0, 0), NEW: (0, 0)}


@pytest.mark.slow
def test_a_model_that_cannot_load_writes_nothing(empty_ws: Workspace, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(package_model_dir(CATALOG[NEW_MODEL].location), model_dir)
    ref = pin_directory(model_dir, name="local-l6", revision="r1")
    ingest(empty_ws, write_corpus(tmp_path / "a.jsonl", {"a": ("A", "alpha")}), table="tiny")
    embed(empty_ws, "tiny", ref)
    version = empty_ws.table("tiny").version
    shutil.rmtree(model_dir)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        ingest(empty_ws, write_corpus(tmp_path / "b.jsonl", {"b": ("B", "beta")}), table="tiny")
    assert empty_ws.table("tiny").version == version
    assert empty_ws.table("tiny").count_rows() == 1


def test_an_injected_embedder_of_another_model_is_refused(
    demo_ws: Workspace, embedders, tmp_path: Path
) -> None:
    swapped = {OLD: embedders[NEW], NEW: embedders[OLD]}
    with pytest.raises(MixedIndexError):
        ingest(demo_ws, write_corpus(tmp_path / "c.jsonl", CHANGES), table="demo", embedders=swapped)
