"""The one checkpoint module: its on-disk format, what survives a kill, and resuming from it.

The file layouts are written by hand here (not through the module) where a test pins the
format: a run interrupted under an older release must still resume.
"""

from __future__ import annotations

import json
import pickle
import sys
import types
from pathlib import Path

import pyarrow as pa
import pytest

from tests.embedding.test_embed import REF, Interrupted, small_corpus
from workbench.embedding.batch import READ_COLUMNS, embed_batch, vector_schema
from workbench.embedding.checkpoint import (
    BatchRun,
    FragmentResult,
    FragmentRun,
    PendingRun,
    atomic_write,
    batch_run,
    fragment_run,
    pending_run,
)
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.store.workspace import Workspace

MANIFEST = {"table_version": 1, "rows": 20, "batch_size": 8, "fingerprint": REF.fingerprint}


def rows(ids: list[str], dim: int = 3) -> pa.RecordBatch:
    """Embedded rows ``(id, vector, src)`` as the local engine checkpoints them."""
    flat = pa.array([float(i) for i in range(len(ids) * dim)], pa.float32())
    return pa.RecordBatch.from_arrays(
        [pa.array(ids), pa.FixedSizeListArray.from_arrays(flat, dim), pa.array([f"h{i}" for i in ids])],
        names=["id", "vec", "src"],
    )


def legacy_pickle(result: FragmentResult, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The bytes the Ray engine wrote before this module existed (the class in ``fragments``)."""
    with monkeypatch.context() as patch:
        old = types.ModuleType("workbench.embedding.fragments")
        old.FragmentResult = FragmentResult  # type: ignore[attr-defined]
        patch.setitem(sys.modules, old.__name__, old)
        patch.setattr(FragmentResult, "__module__", old.__name__)
        data = pickle.dumps(result)
    assert b"workbench.embedding.fragments" in data
    return data


def test_an_atomic_write_leaves_the_whole_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "part-000000.arrow"
    atomic_write(target, b"first")
    atomic_write(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_both_engines_checkpoint_under_their_own_folder_of_the_state_dir(tmp_path: Path) -> None:
    assert batch_run(tmp_path, "t", "vec").folder == tmp_path / "runs" / "t" / "vec"
    assert fragment_run(tmp_path, "t", "vec").folder == tmp_path / "ray-runs" / "t" / "vec"


def test_batch_checkpoints_round_trip_rows_ids_and_tokens(tmp_path: Path) -> None:
    run = batch_run(tmp_path, "t", "vec")
    run.prepare(MANIFEST)
    run.write(0, rows(["a", "b"]), tokens=7)
    run.write(1, rows(["c"]), tokens=5)
    assert run.has(0, pa.array(["a", "b"])) and run.has(1, pa.array(["c"]))
    assert not run.has(2, pa.array(["d"]))
    assert (run.rows_done(), run.tokens()) == (3, 12)
    schema = rows(["x"]).schema
    assert run.reader(schema).read_all().column("id").to_pylist() == ["a", "b", "c"]
    assert not list(run.folder.glob("*.tmp"))


def test_a_part_that_does_not_match_the_scan_is_dropped(tmp_path: Path) -> None:
    run = batch_run(tmp_path, "t", "vec")
    run.prepare(MANIFEST)
    run.write(0, rows(["a", "b"]))
    assert not run.has(0, pa.array(["a", "z"]))  # another row order or content: recompute
    assert run.rows_done() == 0


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_another_runs_checkpoints_are_discarded_when_a_run_starts(tmp_path: Path, engine: str) -> None:
    run: BatchRun | FragmentRun
    if engine == "local":
        run = batch_run(tmp_path, "t", "vec")
        run.prepare(MANIFEST)
        run.write(0, rows(["a"]))
        run.prepare({**MANIFEST, "table_version": 2})
    else:
        run = fragment_run(tmp_path, "t", "vec")
        manifest = {**MANIFEST, "engine": "ray", "fragments": [0], "metadata": {}}
        run.prepare(manifest)
        run.save(FragmentResult(0, 4, "meta", "schema"))
        run.prepare({**manifest, "table_version": 2})
    assert run.rows_done() == 0 and run.manifest() is not None
    assert run.manifest()["table_version"] == 2  # type: ignore[index]


def test_parts_without_a_manifest_are_never_reused(tmp_path: Path) -> None:
    run = batch_run(tmp_path, "t", "vec")
    run.folder.mkdir(parents=True)
    (run.folder / "manifest.json").write_text("{torn")
    run.write(0, rows(["a"]))
    run.prepare(MANIFEST)
    assert run.rows_done() == 0


def test_a_fragment_checkpoint_round_trips_and_a_torn_one_is_recomputed(tmp_path: Path) -> None:
    run = fragment_run(tmp_path, "t", "vec")
    run.prepare({**MANIFEST, "engine": "ray", "fragments": [0, 1], "metadata": {}})
    run.save(FragmentResult(0, 4, "meta", "schema"))
    assert run.load(0, data_dir=None) == FragmentResult(0, 4, "meta", "schema")
    (run.folder / "fragment-00000001.pkl").write_bytes(b"")  # as a power loss could leave
    assert run.load(1, data_dir=None) is None
    assert not (run.folder / "fragment-00000001.pkl").exists()
    assert run.rows_done() == 4


def test_a_fragment_checkpoint_of_the_previous_release_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = fragment_run(tmp_path, "t", "vec")
    run.prepare({**MANIFEST, "engine": "ray", "fragments": [3], "metadata": {}})
    (run.folder / "fragment-00000003.pkl").write_bytes(
        legacy_pickle(FragmentResult(3, 9, "meta", "schema"), monkeypatch)
    )
    assert "workbench.embedding.fragments" not in sys.modules
    assert run.load(3, data_dir=None) == FragmentResult(3, 9, "meta", "schema")
    assert run.rows_done() == 9


def test_pending_run_reads_either_engines_checkpoints_the_same_way(
    empty_ws: Workspace, tmp_path: Path
) -> None:
    ingest(empty_ws, small_corpus(tmp_path, 20))
    version = empty_ws.table("small").version
    assert pending_run(empty_ws, "small", REF) is None
    manifest = {**MANIFEST, "table_version": version}
    ray = fragment_run(empty_ws.state_dir, "small", REF.column)
    ray.prepare({**manifest, "engine": "ray", "fragments": [0], "metadata": {}})
    ray.save(FragmentResult(0, 16, "meta", "schema"))
    expected = PendingRun(REF.column, 16, 20, version, 8, valid=True, engine="ray")
    assert pending_run(empty_ws, "small", REF) == expected
    ray.discard()
    local = batch_run(empty_ws.state_dir, "small", REF.column)
    local.prepare(manifest)
    local.write(0, rows([f"d{i}" for i in range(8)]))
    assert pending_run(empty_ws, "small", REF) == PendingRun(REF.column, 8, 20, version, 8, valid=True)
    other = REF.model_copy(update={"fingerprint": "0" * 64})
    assert pending_run(empty_ws, "small", other) is None  # another pin, another column
    local.prepare({**manifest, "fingerprint": "f" * 64})
    assert not pending_run(empty_ws, "small", REF).valid  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_local_run_resumes_from_checkpoints_written_in_the_documented_layout(
    empty_ws: Workspace, tmp_path: Path, old_embedder
) -> None:
    """The layout by hand (as the previous release wrote it): manifest + Arrow IPC parts."""
    ingest(empty_ws, small_corpus(tmp_path, 20))
    table = empty_ws.table("small")
    folder = empty_ws.state_dir / "runs" / "small" / REF.column
    folder.mkdir(parents=True)
    manifest = {"table_version": table.version, "rows": 20, "batch_size": 8, "fingerprint": REF.fingerprint}
    (folder / "manifest.json").write_text(json.dumps(manifest, sort_keys=True))
    first = table.to_lance().to_batches(columns=READ_COLUMNS, batch_size=8, scan_in_order=True)
    batch = embed_batch(old_embedder, next(iter(first)), vector_schema(REF), encode_batch=8)
    batch = batch.replace_schema_metadata({b"workbench:tokens": b"0"})
    with pa.OSFile(str(folder / "part-000000.arrow"), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as w:
        w.write_batch(batch)
    assert pending_run(empty_ws, "small", REF) == PendingRun(REF.column, 8, 20, table.version, 8, valid=True)
    result = embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8)
    assert result.created and result.resumed_rows == 8 and result.rows == 20
    assert not folder.exists()


@pytest.mark.slow
def test_a_killed_local_run_leaves_whole_parts_that_the_next_run_resumes_from(
    empty_ws: Workspace, tmp_path: Path, old_embedder
) -> None:
    ingest(empty_ws, small_corpus(tmp_path, 20))

    def stop(done: int, total: int) -> None:
        if done >= 16:
            raise Interrupted

    with pytest.raises(Interrupted):
        embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8, on_progress=stop)
    folder = batch_run(empty_ws.state_dir, "small", REF.column).folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "part-000000.arrow",
        "part-000001.arrow",
    ]
    for part in folder.glob("part-*.arrow"):  # each part is a whole Arrow file
        assert pa.ipc.open_file(pa.memory_map(str(part))).read_all().num_rows == 8
    result = embed(empty_ws, "small", REF, embedder=old_embedder, batch_size=8)
    assert result.resumed_rows == 16 and result.rows == 20
