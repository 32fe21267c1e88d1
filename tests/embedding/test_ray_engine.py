"""The Ray engine (real Ray, local, 2 CPUs): the local engine's column contract, fragment resume,
per-worker pin checks, and kill -9 of the driver at random points."""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.corpus.test_readers import write_beir
from tests.embedding.test_checkpoint import legacy_pickle
from workbench.contract import candidate_tag
from workbench.embedding.checkpoint import FragmentResult, FragmentRun, pending_run
from workbench.embedding.commit import commit_fragments
from workbench.embedding.ingest import ingest
from workbench.embedding.ray_engine import RayOptions
from workbench.embedding.run import embed
from workbench.errors import (
    ConcurrentChangeError,
    FingerprintMismatchError,
    InvalidArgumentError,
    MissingDependencyError,
)
from workbench.models.catalog import CATALOG
from workbench.models.sources.local import pin_directory, resolve_model_dir
from workbench.store.workspace import Workspace, open_workspace, vector_columns

pytest.importorskip("ray", reason="the ray extra is not installed")

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
REF = CATALOG["minilm-l3"]
PIECES = (40, 80, 120)  # ingested as three growing prefixes: three fragments of 40 rows


def demo_docs(n: int) -> list[dict]:
    return [json.loads(line) for line in (DEMO / "corpus.jsonl").read_text().splitlines()[:n]]


def fragmented_workspace(path: Path, scratch: Path, pieces: tuple[int, ...] = PIECES) -> Workspace:
    """A workspace whose table ``small`` has one fragment per piece (a corpus that grew)."""
    ws = open_workspace(path)
    docs = demo_docs(pieces[-1])
    for n in pieces:
        ingest(ws, write_beir(scratch / f"part{n}", docs[:n], [], None), table="small")
    return ws


@pytest.fixture(scope="module")
def fragmented_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fragmented")
    ws = fragmented_workspace(root / "ws", root)
    assert len(ws.table("small").to_lance().get_fragments()) == len(PIECES)
    return root / "ws"


@pytest.fixture
def fragmented(fragmented_template: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(fragmented_template, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


@pytest.fixture(scope="module")
def local_column(fragmented_template: Path, tmp_path_factory: pytest.TempPathFactory, old_embedder):
    """The local engine's column on the same table: (ids in scan order, vectors, src)."""
    path = tmp_path_factory.mktemp("local") / "ws"
    shutil.copytree(fragmented_template, path)
    ws = open_workspace(path)
    embed(ws, "small", REF, embedder=old_embedder, batch_size=16)
    return column_of(ws)


def column_of(ws: Workspace) -> tuple[list[str], np.ndarray, list[str]]:
    data = ws.table("small").to_arrow()
    vectors = np.asarray(data.column(REF.column).combine_chunks().flatten()).reshape(data.num_rows, -1)
    return data.column("id").to_pylist(), vectors, data.column(REF.src_column).to_pylist()


def assert_same_column(ws: Workspace, reference) -> None:
    ids, vectors, src = column_of(ws)
    ref_ids, ref_vectors, ref_src = reference
    assert ids == ref_ids and len(set(ids)) == len(ids)  # same rows, same order, no duplicates
    assert not np.isnan(vectors).any() and ws.table("small").to_arrow().column(REF.column).null_count == 0
    cosine = (
        (vectors * ref_vectors).sum(1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(ref_vectors, axis=1)
    )
    assert cosine.min() >= 0.99999
    assert src == ref_src == ws.table("small").to_arrow().column("content_hash").to_pylist()


def test_ray_column_equals_the_local_column_with_the_same_contract(
    fragmented: Workspace, local_column, ray_cluster: str
) -> None:
    before = fragmented.table("small").version
    fragments: list[tuple[int, int]] = []
    rows: list[tuple[int, int]] = []
    result = embed(
        fragmented,
        "small",
        REF,
        engine="ray",
        ray=RayOptions(workers=2, cpus_per_worker=0.5),
        batch_size=16,
        on_progress=lambda d, t: rows.append((d, t)),
        on_fragment=lambda d, t: fragments.append((d, t)),
    )
    table = fragmented.table("small")
    assert result.created and result.rows == 120 and result.resumed_rows == 0
    assert result.version == table.version == before + 1  # one version adds the column
    assert REF.column not in table.to_lance().checkout_version(before).schema.names
    assert table.tags.get_version(candidate_tag(REF.column)) == result.version
    (column,) = vector_columns(table)
    assert column.ref == REF and column.src_column == REF.src_column and column.created_at
    assert fragments == [(1, 3), (2, 3), (3, 3)] and rows[-1] == (120, 120)
    assert_same_column(fragmented, local_column)
    # LanceDB searches it as a vector (a FixedSizeList, not a large_list)
    hits = table.search(local_column[1][7], vector_column_name=REF.column).distance_type("cosine").limit(1)
    assert hits.select(["id", "_distance"]).to_list()[0]["id"] == local_column[0][7]
    again = embed(fragmented, "small", REF, engine="ray")
    assert not again.created and fragmented.table("small").version == result.version
    assert not (fragmented.state_dir / "ray-runs" / "small" / REF.column).exists()


@pytest.mark.parametrize("written_by", ["this release", "the previous release"])
def test_an_interrupted_job_resumes_without_recomputing_finished_fragments(
    fragmented: Workspace, local_column, ray_cluster: str, written_by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stop(Exception):
        pass

    def stop_after_first(done: int, total: int) -> None:
        raise Stop

    before = fragmented.table("small").version
    with pytest.raises(Stop):
        embed(fragmented, "small", REF, engine="ray", ray=RayOptions(workers=1), on_fragment=stop_after_first)
    table = fragmented.table("small")
    assert table.version == before and REF.column not in table.schema.names  # nothing visible
    run = FragmentRun(fragmented.state_dir / "ray-runs" / "small" / REF.column)
    if written_by == "the previous release":  # its checkpoints name the class in embedding.fragments
        for path in run.folder.glob("fragment-*.pkl"):
            path.write_bytes(legacy_pickle(pickle.loads(path.read_bytes()), monkeypatch))
    assert run.rows_done() == 40
    pending = pending_run(fragmented, "small", REF)
    assert pending is not None and pending.engine == "ray" and pending.valid
    assert (pending.rows_done, pending.rows_total, pending.table_version) == (40, 120, before)
    result = embed(fragmented, "small", REF, engine="ray", ray=RayOptions(workers=2, cpus_per_worker=0.5))
    assert result.resumed_rows == 40 and result.version == before + 1
    assert_same_column(fragmented, local_column)
    assert not run.folder.exists()
    assert pending_run(fragmented, "small", REF) is None


def test_a_worker_whose_model_differs_fails_the_job_before_anything_is_committed(
    fragmented: Workspace, tmp_path: Path, ray_cluster: str
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(resolve_model_dir(REF), model_dir)
    ref = pin_directory(model_dir, name="copied-l3", revision="test-1")
    config = model_dir / "config.json"
    config.write_text(config.read_text() + "\n")  # the workers' files now differ from the pin
    before = fragmented.table("small").version
    with pytest.raises(FingerprintMismatchError, match="fingerprint"):
        embed(fragmented, "small", ref, engine="ray", ray=RayOptions(workers=2, cpus_per_worker=0.5))
    table = fragmented.table("small")
    assert table.version == before and ref.column not in table.schema.names
    assert not FragmentRun(fragmented.state_dir / "ray-runs" / "small" / ref.column).rows_done()


def test_a_table_changed_during_the_job_is_refused_with_nothing_committed(
    fragmented: Workspace, tmp_path: Path, ray_cluster: str
) -> None:
    extra = write_beir(tmp_path / "more", [*demo_docs(120), {"_id": "new", "text": "a new row"}], [], None)

    def append_midway(done: int, total: int) -> None:
        if done == 1:
            ingest(fragmented, extra, table="small")

    with pytest.raises(ConcurrentChangeError, match="changed while embedding"):
        embed(fragmented, "small", REF, engine="ray", ray=RayOptions(workers=1), on_fragment=append_midway)
    table = fragmented.table("small")
    assert REF.column not in table.schema.names and table.count_rows() == 121


def test_a_stale_commit_is_a_conflict_not_a_corruption(
    fragmented: Workspace, ray_cluster: str, tmp_path: Path
) -> None:
    """Lance's own conflict check: a Merge read at an old version after another writer's Append."""
    embed(fragmented, "small", REF, engine="ray", ray=RayOptions(workers=1))
    table = fragmented.table("small")
    dataset = table.to_lance()
    extra = write_beir(tmp_path / "more", [*demo_docs(120), {"_id": "new", "text": "a new row"}], [], None)
    ingest(fragmented, extra, table="small")
    with pytest.raises(ConcurrentChangeError, match="another writer committed"):
        commit_fragments(
            dataset.uri, _fake_merge(dataset), read_version=dataset.version, storage_options=None
        )
    assert fragmented.table("small").count_rows() == 121


def _fake_merge(dataset):
    import pyarrow as pa

    results = []
    for fragment in dataset.get_fragments():
        meta, schema = fragment.merge_columns(
            lambda b: pa.RecordBatch.from_arrays([pa.array([1] * b.num_rows)], names=["x"]), ["id"]
        )
        results.append(FragmentResult(fragment.fragment_id, fragment.count_rows(), meta, schema))
    return results


@pytest.mark.parametrize(
    ("options", "message"),
    [({"workers": 0}, "workers must be at least 1"), ({"cpus_per_worker": 0}, "cpus_per_worker must be > 0")],
)
def test_bad_ray_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        RayOptions(**options)


def test_unknown_engine_is_refused(fragmented: Workspace) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown engine 'spark'; engines: local, ray"):
        embed(fragmented, "small", REF, engine="spark")  # type: ignore[arg-type]


def test_without_ray_installed_the_error_says_how_to_install_it(
    fragmented: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without the extra
    before = fragmented.table("small").version
    with pytest.raises(MissingDependencyError, match=r'pip install "embedding-workbench\[ray\]"'):
        embed(fragmented, "small", REF, engine="ray")
    assert fragmented.table("small").version == before


def test_cli_bad_engine_exits_2_and_writes_nothing(fragmented: Workspace) -> None:
    from typer.testing import CliRunner

    from workbench.cli.app import app

    before = fragmented.table("small").version
    out = CliRunner().invoke(
        app, ["embed", "-w", fragmented.uri, "--model", "minilm-l3", "--engine", "spark"]
    )
    assert out.exit_code == 2 and "unknown engine 'spark'" in out.output
    assert fragmented.table("small").version == before


# --- kill -9 of the driver at random points ----------------------------------------------------


def cli(ws: Path, address: str) -> list[str]:
    return [
        sys.executable, "-c", "from workbench.cli.app import main; main()", "embed", "-w", str(ws), "--model", "minilm-l3",
        "--engine", "ray", "--ray-address", address, "--workers", "2", "--cpus-per-worker", "0.5",
        "--batch-size", "16", "--json",
    ]  # fmt: skip


def cli_env() -> dict[str, str]:
    repo = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.mark.slow
def test_kill_9_of_the_driver_at_random_points_then_rerun_gives_the_whole_column(
    fragmented_template: Path, local_column, ray_cluster: str, tmp_path: Path
) -> None:
    """Five trials: SIGKILL the CLI driver at a random time, rerun, compare with the local column."""
    rng = random.Random(14)
    started = time.perf_counter()
    reference = tmp_path / "uninterrupted"
    shutil.copytree(fragmented_template, reference)
    subprocess.run(cli(reference, ray_cluster), env=cli_env(), check=True, capture_output=True, timeout=600)
    duration = time.perf_counter() - started
    outcomes = []
    for trial in range(5):
        path = tmp_path / f"trial{trial}"
        shutil.copytree(fragmented_template, path)
        kill_at = rng.uniform(0.2, 1.0) * duration
        proc = subprocess.Popen(
            cli(path, ray_cluster), env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            proc.wait(timeout=kill_at)
            outcomes.append("finished first")
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            outcomes.append(f"killed at {kill_at:.1f}s")
        ws = open_workspace(path)
        table = ws.table("small")
        if REF.column in table.schema.names:  # killed after the commit: the column is whole
            assert table.to_arrow().column(REF.column).null_count == 0
        done = subprocess.run(
            cli(path, ray_cluster), env=cli_env(), capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-2000:]
        ws = open_workspace(path)
        assert_same_column(ws, local_column)
        versions = ws.table("small").to_lance().versions()
        with_column = [
            v["version"]
            for v in versions
            if REF.column in ws.table("small").to_lance().checkout_version(v["version"]).schema.names
        ]
        assert with_column[0] == ws.table("small").tags.get_version(candidate_tag(REF.column))
    assert any(o.startswith("killed") for o in outcomes), outcomes
