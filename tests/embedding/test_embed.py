"""Embedding runs: one whole column in one version, tagged, resumable, never mixed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.corpus.test_readers import write_beir
from workbench.contract import candidate_tag
from workbench.embedding.checkpoint import PendingRun, pending_run
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import DimensionMismatchError, MixedIndexError
from workbench.models.catalog import CATALOG
from workbench.store.workspace import Workspace, open_workspace, vector_columns

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
REF = CATALOG["minilm-l3"]


class Interrupted(Exception):
    pass


def small_corpus(tmp_path: Path, n: int = 50) -> Path:
    docs = [json.loads(line) for line in (DEMO / "corpus.jsonl").read_text().splitlines()[:n]]
    return write_beir(tmp_path / "small", docs, [], None)


def vectors_by_id(ws: Workspace, table: str, column: str) -> dict[str, np.ndarray]:
    data = ws.table(table).to_arrow()
    return dict(zip(data.column("id").to_pylist(), np.array(data.column(column).to_pylist()), strict=True))


@pytest.mark.slow
def test_column_appears_whole_in_one_tagged_version(
    empty_ws: Workspace, tmp_path: Path, old_embedder
) -> None:
    ingest(empty_ws, small_corpus(tmp_path))
    seen: list[tuple[int, int]] = []
    result = embed(
        empty_ws,
        "small",
        REF,
        embedder=old_embedder,
        batch_size=16,
        on_progress=lambda d, t: seen.append((d, t)),
    )
    table = empty_ws.table("small")
    assert result.created and result.version == table.version == 2
    assert seen[-1] == (50, 50) and len(seen) == 4
    assert table.tags.get_version(candidate_tag(REF.column)) == 2
    assert REF.column not in table.to_lance().checkout_version(1).schema.names
    (column,) = vector_columns(table)
    assert column.ref == REF and column.src_column == REF.src_column
    assert "lancedb" in column.library_versions and column.created_at
    data = table.to_arrow()
    assert data.column(REF.column).null_count == 0
    assert data.column(REF.src_column).to_pylist() == data.column("content_hash").to_pylist()


@pytest.mark.slow
def test_embedding_the_same_model_twice_is_a_no_op(empty_ws: Workspace, tmp_path: Path, old_embedder) -> None:
    ingest(empty_ws, small_corpus(tmp_path, 10))
    first = embed(empty_ws, "small", REF, embedder=old_embedder)
    again = embed(empty_ws, "small", REF, embedder=old_embedder)
    assert not again.created and "nothing to do" in again.message
    assert empty_ws.table("small").version == first.version


@pytest.mark.slow
def test_lost_tag_is_restored_on_the_version_that_added_the_column(
    empty_ws: Workspace, tmp_path: Path, old_embedder
) -> None:
    ingest(empty_ws, small_corpus(tmp_path, 10))
    first = embed(empty_ws, "small", REF, embedder=old_embedder)
    table = empty_ws.table("small")
    table.tags.delete(first.tag)
    table.to_lance().update_schema_metadata({"unrelated": "change"})
    again = embed(empty_ws, "small", REF, embedder=old_embedder)
    assert again.version == first.version


def test_other_dimension_for_an_existing_column_is_refused(
    empty_ws: Workspace, tmp_path: Path, old_embedder
) -> None:
    ingest(empty_ws, small_corpus(tmp_path, 10))
    embed(empty_ws, "small", REF, embedder=old_embedder)
    with pytest.raises(DimensionMismatchError, match="never rewritten with another shape"):
        embed(empty_ws, "small", REF.model_copy(update={"dim": 768}), embedder=old_embedder)


def test_an_embedder_of_another_model_is_refused(empty_ws: Workspace, tmp_path: Path, new_embedder) -> None:
    ingest(empty_ws, small_corpus(tmp_path, 10))
    with pytest.raises(MixedIndexError, match="written by its own model only"):
        embed(empty_ws, "small", REF, embedder=new_embedder)
    assert REF.column not in empty_ws.table("small").schema.names


@pytest.mark.slow
def test_interrupted_run_resumes_to_exactly_the_uninterrupted_column(tmp_path: Path, old_embedder) -> None:
    corpus = small_corpus(tmp_path, 50)
    reference_ws = open_workspace(tmp_path / "reference")
    ingest(reference_ws, corpus)
    embed(reference_ws, "small", REF, embedder=old_embedder, batch_size=8)

    ws = open_workspace(tmp_path / "interrupted")
    ingest(ws, corpus)

    def stop_after_three_batches(done: int, total: int) -> None:
        if done >= 24:
            raise Interrupted

    with pytest.raises(Interrupted):
        embed(ws, "small", REF, embedder=old_embedder, batch_size=8, on_progress=stop_after_three_batches)
    assert REF.column not in ws.table("small").schema.names  # never a half-filled column
    result = embed(ws, "small", REF, embedder=old_embedder, batch_size=8)
    assert result.resumed_rows == 24 and result.rows == 50
    expected = vectors_by_id(reference_ws, "small", REF.column)
    actual = vectors_by_id(ws, "small", REF.column)
    assert actual.keys() == expected.keys()
    for doc_id, vector in expected.items():
        np.testing.assert_allclose(actual[doc_id], vector, atol=1e-6)
    assert not (ws.state_dir / "runs" / "small" / REF.column).exists()


def _interrupt_after(rows: int):
    def stop(done: int, total: int) -> None:
        if done >= rows:
            raise Interrupted

    return stop


@pytest.mark.slow
def test_pending_run_shows_an_interrupted_run_until_it_is_resumed(
    empty_ws: Workspace, tmp_path: Path, old_embedder
) -> None:
    ingest(empty_ws, small_corpus(tmp_path, 50))
    assert pending_run(empty_ws, "small", REF) is None
    with pytest.raises(Interrupted):
        embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8, on_progress=_interrupt_after(24))
    version = empty_ws.table("small").version
    assert pending_run(empty_ws, "small", REF) == PendingRun(
        column=REF.column, rows_done=24, rows_total=50, table_version=version, batch_size=8, valid=True
    )
    assert pending_run(empty_ws, "small", CATALOG["minilm-l6"]) is None  # another model's column
    result = embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8)
    assert result.resumed_rows == 24
    assert pending_run(empty_ws, "small", REF) is None  # done: the column exists, checkpoints are gone


@pytest.mark.slow
def test_pending_run_is_invalid_once_the_table_changed(
    empty_ws: Workspace, tmp_path: Path, old_embedder
) -> None:
    corpus = small_corpus(tmp_path, 20)
    ingest(empty_ws, corpus)
    with pytest.raises(Interrupted):
        embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8, on_progress=_interrupt_after(8))
    before = empty_ws.table("small").version
    empty_ws.table("small").delete("id = 'd0001'")  # a new table version
    pending = pending_run(empty_ws, "small", REF)
    assert pending is not None and not pending.valid
    assert (pending.rows_done, pending.rows_total, pending.table_version) == (8, 20, before)
    result = embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8)
    assert result.resumed_rows == 0 and result.rows == 19  # the checkpoints were discarded


@pytest.mark.slow
def test_a_crash_between_commit_and_cleanup_leaves_nothing_behind(
    empty_ws: Workspace, tmp_path: Path, old_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    embed_module = importlib.import_module("workbench.embedding.run")
    ingest(empty_ws, small_corpus(tmp_path, 20))

    def crash(*args: object) -> None:
        raise Interrupted

    monkeypatch.setattr(embed_module, "set_tag", crash)
    with pytest.raises(Interrupted):
        embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8)
    run_dir = empty_ws.state_dir / "runs" / "small" / REF.column
    assert REF.column in empty_ws.table("small").schema.names and run_dir.exists()
    monkeypatch.undo()
    again = embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8)
    assert not again.created and not run_dir.exists()
    assert empty_ws.table("small").tags.get_version(candidate_tag(REF.column)) == again.version


@pytest.mark.slow
def test_an_unreadable_checkpoint_is_recomputed(empty_ws: Workspace, tmp_path: Path, old_embedder) -> None:
    ingest(empty_ws, small_corpus(tmp_path, 40))

    def stop(done: int, total: int) -> None:
        if done >= 24:
            raise Interrupted

    with pytest.raises(Interrupted):
        embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8, on_progress=stop)
    part = empty_ws.state_dir / "runs" / "small" / REF.column / "part-000001.arrow"
    part.write_bytes(b"")  # a torn file, as a power loss could leave
    result = embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8)
    assert result.created and result.resumed_rows == 16
    assert empty_ws.table("small").to_arrow().column(REF.column).null_count == 0
