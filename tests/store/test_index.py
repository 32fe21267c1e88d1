"""ANN indexes: one per vector column, recorded parameters, coverage, dual-write, serving, recall."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import write_corpus
from workbench.cli.app import app
from workbench.comparison.index_eval import index_recall, recall_at
from workbench.contract import META_INDEX, PRODUCTION_TAG
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.errors import DataError, InvalidArgumentError, NotFoundError
from workbench.models.catalog import CATALOG
from workbench.production.promote import refresh, rollback
from workbench.production.serving import ProductionIndex, check
from workbench.retrieval.exact import scan_search
from workbench.store.index import IndexSpec, build_index, default_spec, describe_indexes
from workbench.store.production import production
from workbench.store.status import table_status
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
QUERIES = [
    "how do I roll back a model release?",
    "boiling rice",
    "why do zebras have stripes",
    "fix a bicycle chain",
    "first aid for someone unconscious",
]
runner = CliRunner()


def _build(ws: Workspace, column: str, spec: IndexSpec | None = None) -> None:
    table = ws.table("demo")
    build_index(table, ws.resolve_column(table, column), spec=spec)


def test_build_records_the_parameters_with_the_column_and_covers_every_row(demo_ws: Workspace) -> None:
    table = demo_ws.table("demo")
    steps: list[tuple[int, int]] = []
    info = build_index(
        table, demo_ws.resolve_column(table, NEW_MODEL), on_progress=lambda d, n: steps.append((d, n))
    )
    assert steps == [(0, 2), (1, 2), (2, 2)]
    assert (info.column, info.index_type, info.indexed_rows, info.unindexed_rows) == (
        NEW,
        "IVF_HNSW_SQ",
        432,
        0,
    )
    assert info.spec == default_spec(432, 384) and info.build_s is not None and info.build_s >= 0
    record = json.loads(table.schema.field(NEW).metadata[META_INDEX.encode()])
    assert record["spec"]["index_type"] == "IVF_HNSW_SQ" and record["rows"] == 432
    assert set(describe_indexes(table)) == {NEW}  # one index per column; the other has none
    columns = {c.name: c for c in table_status(table).columns}
    assert columns[NEW].index == info.spec.describe() and columns[NEW].unindexed_rows == 0
    assert columns[OLD].index is None


@pytest.mark.parametrize(
    ("rows", "kind", "partitions", "nprobes", "refine"),
    [
        (432, "IVF_HNSW_SQ", 1, 1, 2),
        (49_999, "IVF_HNSW_SQ", 1, 1, 2),
        (100_000, "IVF_PQ", 13, 13, 10),
        (500_000, "IVF_PQ", 62, 16, 30),
        (1_000_000, "IVF_PQ", 123, 30, 50),
        (10_000_000, "IVF_PQ", 1221, 305, 50),
    ],
)
def test_default_parameters_follow_rows_and_dimension(
    rows: int, kind: str, partitions: int, nprobes: int, refine: int
) -> None:
    spec = default_spec(rows, 384)
    assert (spec.index_type, spec.num_partitions, spec.nprobes, spec.refine_factor) == (
        kind,
        partitions,
        nprobes,
        refine,
    )
    if kind == "IVF_PQ":
        assert spec.num_sub_vectors == 48
    assert default_spec(rows, 384, nprobes=7).nprobes == 7  # an override replaces one parameter
    assert default_spec(rows, 100, "IVF_PQ").num_sub_vectors == 10  # a divisor of the dimension


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"index_type": "DISKANN"}, r"index setting 'index_type'.*IVF_PQ, IVF_HNSW_SQ, IVF_FLAT"),
        ({"index_type": "IVF_PQ", "nprobes": 0}, r"'nprobes' must be a positive integer, got 0"),
        ({"index_type": "IVF_PQ", "nprobes": 4, "bogus": 1}, r"index setting 'bogus'"),
    ],
)
def test_bad_index_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        IndexSpec(**{"num_partitions": 4, "nprobes": 4, **settings})


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        (
            default_spec(432, 384, "IVF_FLAT", num_partitions=1000),
            DataError,
            r"432 rows, fewer than the 1000 partitions",
        ),
        (
            default_spec(432, 384, "IVF_PQ", num_sub_vectors=7),
            InvalidArgumentError,
            r"7 does not divide the dimension 384",
        ),
    ],
)
def test_an_impossible_index_is_refused_before_anything_is_written(
    demo_ws: Workspace, spec: IndexSpec, error: type[Exception], message: str
) -> None:
    before = demo_ws.table("demo").version
    with pytest.raises(error, match=message):
        _build(demo_ws, NEW, spec)
    assert demo_ws.table("demo").version == before and describe_indexes(demo_ws.table("demo")) == {}


def test_dual_write_keeps_the_indexes_current(demo_ws: Workspace, embedders, tmp_path: Path) -> None:
    _build(demo_ws, OLD)
    _build(demo_ws, NEW)
    docs = {"z1": ("Zebras", "Zebras sleep standing up."), "z2": ("Okapi", "The okapi is a giraffid.")}
    ingest(demo_ws, write_corpus(tmp_path / "new.jsonl", docs), table="demo", embedders=embedders)
    for info in describe_indexes(demo_ws.table("demo")).values():
        assert (info.indexed_rows, info.unindexed_rows) == (434, 0)
        assert info.spec is not None  # the recorded parameters survive the update


def test_index_recall_against_exact_search(demo_ws: Workspace, embedders) -> None:
    vectors = embedders[NEW].encode_queries(QUERIES)
    with pytest.raises(NotFoundError, match=rf"{NEW} has no vector index .* `workbench index {NEW}`"):
        index_recall(demo_ws.table("demo"), NEW, vectors, 10)
    _build(demo_ws, NEW)
    good = index_recall(demo_ws.table("demo"), NEW, vectors, 10)
    assert good >= 0.9
    _build(demo_ws, NEW, default_spec(432, 384, "IVF_FLAT", num_partitions=16, nprobes=1))
    table = demo_ws.table("demo")
    bad = index_recall(table, NEW, vectors, 10)
    assert bad < good  # one partition of 16 misses neighbours: the recall says so
    assert (
        index_recall(
            table, NEW, vectors, 10, spec=default_spec(432, 384, "IVF_FLAT", num_partitions=16, nprobes=16)
        )
        == 1.0
    )


def test_exact_latency_stops_at_its_time_budget(demo_ws: Workspace, embedders) -> None:
    from workbench.comparison.index_eval import EXACT_LATENCY_MIN, exact_search_latency

    vectors = embedders[NEW].encode_queries(QUERIES)
    ids = [f"q{i}" for i in range(len(QUERIES))]
    table = demo_ws.table("demo")
    everything = exact_search_latency(table, NEW, vectors, ids, k=10)
    assert len(everything) == len(QUERIES) > EXACT_LATENCY_MIN and (everything > 0).all()
    spent = exact_search_latency(table, NEW, vectors, ids, k=10, budget_s=0.0)
    assert len(spent) == EXACT_LATENCY_MIN  # the budget is gone at once: only the minimum is timed


def test_recall_at_counts_the_shared_top_k() -> None:
    truth = pd.DataFrame({"query_id": ["a"] * 3 + ["b"] * 3, "rank": [1, 2, 3] * 2, "doc_id": list("xyzuvw")})
    found = pd.DataFrame({"query_id": ["a"] * 3 + ["b"] * 3, "rank": [1, 2, 3] * 2, "doc_id": list("xyquvw")})
    assert recall_at(truth, found, 3) == pytest.approx((2 / 3 + 1) / 2)
    assert recall_at(truth, found, 2) == 1.0


def test_serving_uses_the_index_and_parameters_pinned_by_production(demo_ws: Workspace, embedders) -> None:
    first = ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD])
    assert first.index is None and first.search(QUERIES[0]).index == "exact"
    spec = default_spec(432, 384, "IVF_HNSW_SQ", ef=80)
    _build(demo_ws, OLD, spec)
    # The index lives in a newer version than production: not served until production moves.
    assert ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD]).index is None
    assert check(demo_ws, embedder=embedders[OLD]).notes == ()  # an index build changes no document
    refresh(demo_ws, "demo", reason="serve through the index")
    served = ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD])
    result = served.search(QUERIES[0], k=10)
    assert result.index == spec.describe() == "IVF_HNSW_SQ nprobes=1 refine_factor=2 ef=80"
    exact = first.search(QUERIES[0], k=10)
    assert len({h.id for h in result.hits} & {h.id for h in exact.hits}) >= 9
    rollback(demo_ws, "demo", reason="back to the exact version")
    assert ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD]).search(QUERIES[0]).index == "exact"
    pinned = demo_ws.table("demo")
    pinned.checkout(PRODUCTION_TAG)
    assert describe_indexes(pinned) == {} and production(demo_ws.table("demo")).column == OLD


def test_cli_index_builds_reports_and_refuses_bad_input(demo_ws: Workspace) -> None:
    before = demo_ws.table("demo").version
    result = runner.invoke(app, ["index", NEW_MODEL, "--type", "ivf_hnsw", "-w", demo_ws.uri])
    assert result.exit_code == 2 and "unknown index type 'ivf_hnsw'; choose one of IVF_PQ" in result.stderr
    result = runner.invoke(app, ["index", NEW_MODEL, "--partitions", "0", "-w", demo_ws.uri])
    assert result.exit_code == 2 and "'num_partitions' must be a positive integer, got 0" in result.stderr
    assert demo_ws.table("demo").version == before
    result = runner.invoke(
        app, ["index", OLD_MODEL, "--type", "ivf_flat", "--partitions", "2", "-w", demo_ws.uri]
    )
    assert result.exit_code == 0, result.stderr
    assert f"built IVF_FLAT nprobes=2 on {OLD}: 432 rows" in result.stdout
    assert "run `workbench refresh` to serve through it" in result.stdout  # OLD is production
    result = runner.invoke(app, ["status", "-w", demo_ws.uri])
    assert "index IVF_FLAT nprobes=2, 0 rows unindexed" in result.stdout
    assert "no index (exact search)" in result.stdout
    result = runner.invoke(app, ["index", NEW, "--json", "-w", demo_ws.uri])
    assert json.loads(result.stdout)["spec"]["index_type"] == "IVF_HNSW_SQ"


def test_vectors_of_unindexed_rows_are_still_found(demo_ws: Workspace, embedders, tmp_path: Path) -> None:
    _build(demo_ws, NEW)
    table = demo_ws.table("demo")
    table.merge_insert("id").when_not_matched_insert_all().execute(
        table.to_lance().to_table(filter="id = 'd0001'").to_pandas().assign(id="copy-of-d0001")
    )
    info = describe_indexes(demo_ws.table("demo"))[NEW]
    assert info.unindexed_rows == 1
    vector = np.asarray(
        demo_ws.table("demo").to_lance().to_table(columns=[NEW], filter="id = 'd0001'")[NEW][0].as_py()
    )
    found = scan_search(demo_ws.table("demo"), NEW, vector[None, :], ["q"], k=2)
    assert set(found["doc_id"]) == {"d0001", "copy-of-d0001"}
    assert index_recall(demo_ws.table("demo"), NEW, vector[None, :].astype(np.float32), 2) == 1.0


def test_tuning_changes_the_search_parameters_without_a_rebuild(demo_ws: Workspace, embedders) -> None:
    spec = IndexSpec(index_type="IVF_FLAT", num_partitions=8, nprobes=1)
    _build(demo_ws, OLD, spec)
    refresh(demo_ws, "demo", reason="serve through the index")
    table = demo_ws.table("demo")
    before = table.version
    built = json.loads(table.schema.field(OLD).metadata[META_INDEX.encode()])
    index_files = {d.name for d in (Path(demo_ws.uri) / "demo.lance" / "_indices").iterdir()}

    result = runner.invoke(app, ["index", OLD_MODEL, "--tune", "--nprobes", "8", "-w", demo_ws.uri])
    assert result.exit_code == 0, result.stderr
    assert f"tuned IVF_FLAT nprobes=8 on {OLD}" in result.stdout
    assert "run `workbench refresh` to serve through it" in result.stdout
    table = demo_ws.table("demo")
    assert table.version == before + 1  # metadata only: one version, no new index files
    assert {d.name for d in (Path(demo_ws.uri) / "demo.lance" / "_indices").iterdir()} == index_files
    tuned = json.loads(table.schema.field(OLD).metadata[META_INDEX.encode()])
    assert tuned["built_at"] == built["built_at"] and tuned["spec"]["nprobes"] == 8
    assert tuned["spec"]["num_partitions"] == 8 and "tuned_at" in tuned

    served = ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD])
    assert served.search(QUERIES[0]).index == "IVF_FLAT nprobes=1"  # production pins the old ones
    refresh(demo_ws, "demo", reason="serve the tuned parameters")
    served = ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD])
    probed_all = served.search(QUERIES[0], k=10)
    assert probed_all.index == "IVF_FLAT nprobes=8"
    vector = embedders[OLD].encode_queries([QUERIES[0]])
    exact = set(scan_search(table, OLD, vector, ["q"], k=10)["doc_id"])
    assert {h.id for h in probed_all.hits} == exact  # every partition probed: the exact top 10
    rollback(demo_ws, "demo", reason="back")
    served = ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD])
    assert served.search(QUERIES[0]).index == "IVF_FLAT nprobes=1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tune", "--nprobes", "4"], f"{NEW} has no index to tune; build one with `workbench index {NEW}`"),
        (["--tune"], "nothing to tune: give --nprobes, --refine or --ef"),
        (["--tune", "--type", "IVF_PQ", "--nprobes", "4"], "--tune changes search parameters only"),
        (["--tune", "--nprobes", "0"], "'nprobes' must be a positive integer, got 0"),
    ],
)
def test_bad_tuning_is_refused_with_nothing_written(
    demo_ws: Workspace, args: list[str], message: str
) -> None:
    if "has no index" not in message:
        _build(demo_ws, NEW)
    before = demo_ws.table("demo").version
    result = runner.invoke(app, ["index", NEW_MODEL, *args, "-w", demo_ws.uri])
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert demo_ws.table("demo").version == before


def test_batched_index_search_in_groups_gives_the_same_rankings(
    demo_ws: Workspace, embedders, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.comparison import index_eval

    spec = IndexSpec(index_type="IVF_FLAT", num_partitions=4, nprobes=2, refine_factor=3)
    _build(demo_ws, OLD, spec)
    table = demo_ws.table("demo")
    vectors = embedders[OLD].encode_queries(QUERIES)
    ids = [f"q{i}" for i in range(len(QUERIES))]
    whole = index_eval.batch_index_search(table, OLD, vectors, ids, k=20, spec=spec)
    monkeypatch.setattr(index_eval, "REFINE_BUDGET_BYTES", 2 * 20 * 3 * 384 * 4)  # two queries a group
    grouped = index_eval.batch_index_search(table, OLD, vectors, ids, k=20, spec=spec)
    assert grouped[["query_id", "rank", "doc_id"]].equals(whole[["query_id", "rank", "doc_id"]])
    assert set(grouped["query_id"]) == set(ids) and len(grouped) == 20 * len(ids)
