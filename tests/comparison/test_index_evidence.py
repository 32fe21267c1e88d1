"""Index recall as migration evidence: compare measures each index, the gate can require one."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.comparison.run import compare
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.errors import InvalidArgumentError
from workbench.gate.config import GateConfig, load_gate_config
from workbench.models.catalog import CATALOG
from workbench.production.promote import check_gate
from workbench.store.comparisons import load_comparison
from workbench.store.index import build_index, default_spec
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
# One partition of sixteen searched: a badly tuned index that loses neighbours on the demo.
BAD = default_spec(432, 384, "IVF_FLAT", num_partitions=16, nprobes=1)


def _index(ws: Workspace, column: str, spec=None) -> None:
    table = ws.table("demo")
    build_index(table, ws.resolve_column(table, column), spec=spec)


@pytest.mark.slow
def test_compare_measures_each_index_against_the_exact_search(demo_ws: Workspace, embedders) -> None:
    _index(demo_ws, OLD)
    _index(demo_ws, NEW, BAD)
    cmp = compare(demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders)
    evidence = cmp.manifest.index
    assert set(evidence) == {"baseline", "candidate"}
    good, bad = evidence["baseline"], evidence["candidate"]
    assert good["recall"] >= 0.95 > bad["recall"] and good["k"] == 10
    assert bad["index"] == "IVF_FLAT nprobes=1" and good["index"].startswith("IVF_HNSW_SQ")
    assert set(bad["metrics"]) == set(cmp.manifest.metrics)
    # The badly tuned index loses part of the candidate's exact gain, and the numbers show it.
    assert bad["metrics"]["ndcg@10"] < cmp.deltas.loc["ndcg@10", "candidate"]
    assert good["metrics"]["ndcg@10"] == pytest.approx(cmp.deltas.loc["ndcg@10", "baseline"], abs=0.02)
    for side in (good, bad):
        assert 0 < side["latency_ms_p50"] <= side["latency_ms_p95"]
        assert side["exact_latency_ms_p50"] > 0 and side["exact_latency_queries"] == 20
        assert (side["indexed_rows"], side["unindexed_rows"]) == (432, 0)
    delta = bad["metrics"]["ndcg@10"] - good["metrics"]["ndcg@10"]
    assert (
        f"Through the index: ndcg@10 {delta:+.3f}; index recall@10 {bad['recall']:.2f} (candidate)"
        in cmp.summary
    )
    assert "index_s" in cmp.manifest.timings
    assert load_comparison(demo_ws, cmp.id).manifest.index == evidence


@pytest.mark.slow
def test_compare_without_indexes_or_with_index_off_records_no_evidence(demo_ws: Workspace, embedders) -> None:
    plain = compare(
        demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders, store=False
    )
    assert plain.manifest.index == {} and "Through the index" not in plain.summary
    _index(demo_ws, NEW)
    one = compare(
        demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders, store=False
    )
    assert set(one.manifest.index) == {"candidate"}
    assert "index recall@10" in one.summary and "ndcg@10 +" not in one.summary.split("Through the index")[1]
    off = compare(
        demo_ws,
        baseline=OLD_MODEL,
        candidate=NEW_MODEL,
        eval_set="demo",
        embedders=embedders,
        store=False,
        index=False,
    )
    assert off.manifest.index == {}


@pytest.mark.slow
def test_the_gate_can_require_an_indexed_candidate_with_a_recall_floor(
    compared_ws: Workspace, comparison_id: str, embedders
) -> None:
    assert check_gate(compared_ws, "demo", NEW, comparison=comparison_id).passed  # not required by default
    required = GateConfig(require_index=True)
    result = check_gate(compared_ws, "demo", NEW, comparison=comparison_id, gate=required)
    assert not result.passed
    assert result.reasons == [
        f"the gate requires an indexed candidate, but comparison {comparison_id} measured no index on {NEW}: "
        f"run `workbench index {NEW}`, then `workbench compare` again"
    ]
    _index(compared_ws, NEW)
    good = compare(compared_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders)
    result = check_gate(compared_ws, "demo", NEW, comparison=good.id, gate=required)
    check = next(c for c in result.checks if c.name == "index recall")
    assert result.passed and check.passed and check.detail.endswith("≥ 0.950")
    _index(compared_ws, NEW, BAD)
    bad = compare(compared_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders)
    result = check_gate(compared_ws, "demo", NEW, comparison=bad.id, gate=required)
    assert not result.passed
    assert result.reasons == [
        f"index recall@10 of the candidate (IVF_FLAT nprobes=1) {bad.manifest.index['candidate']['recall']:.3f} "
        "is below 0.950"
    ]


def test_index_settings_of_the_gate_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text('require_index = true\nmin_index_recall = 0.9\n[min_ci_low]\n"ndcg@10" = 0.0\n')
    config = load_gate_config(path)
    assert (config.require_index, config.min_index_recall) == (True, 0.9)
    with pytest.raises(InvalidArgumentError, match=r"min_index_recall must be between 0 and 1, got 1.5"):
        GateConfig(min_index_recall=1.5)


@pytest.mark.slow
def test_index_recall_is_measured_as_serving_meets_it(demo_ws: Workspace, embedders) -> None:
    """A refined search for k results re-ranks k × refine candidates: recall@10 must come from a
    k = 10 search, not from the top 10 of the depth-100 rankings (which refine 10× more)."""
    from workbench.comparison.index_eval import index_recall
    from workbench.store.evalsets import load_eval_set

    pq = default_spec(432, 384, "IVF_PQ", num_partitions=4, nprobes=4, refine_factor=1, num_sub_vectors=8)
    _index(demo_ws, NEW, pq)
    cmp = compare(demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders)
    queries = load_eval_set(demo_ws, "demo").queries
    vectors = embedders[NEW].encode_queries([queries[q] for q in sorted(queries)])
    served = index_recall(demo_ws.table("demo"), NEW, vectors, 10)
    assert cmp.manifest.index["candidate"]["recall"] == pytest.approx(served, abs=1e-9)
    assert served < 1.0  # 8 PQ codes of 48 dimensions each mis-order neighbours without a refine


def test_latencies_are_timed_on_the_query_serving_runs(
    demo_ws: Workspace, embedders, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both latency figures time :func:`served_search`, the call ``ProductionIndex.search`` makes:
    through the index with its pinned parameters, and exact as LanceDB's flat search."""
    import numpy as np

    from workbench.comparison import index_eval
    from workbench.production import serving
    from workbench.store import index as store_index

    _index(demo_ws, NEW, BAD)
    calls: list[tuple[str, bool]] = []

    def spy(table, column, vector, spec, *, k, exact=False):  # the real search, recorded
        calls.append((spec.describe() if spec is not None else "none", exact))
        return store_index.served_search(table, column, vector, spec, k=k, exact=exact)

    assert serving.served_search is store_index.served_search  # serving runs this very function
    monkeypatch.setattr(index_eval, "served_search", spy)
    table = demo_ws.table("demo")
    vectors = embedders[NEW].encode_queries(["rollback", "vector index", "canary check", "drift"])
    evidence, _ = index_eval.measure_index(
        table, NEW, vectors, ["a", "b", "c", "d"], _exact(table, vectors), k=3, depth=3, exact_sample=2
    )
    assert calls.count(("IVF_FLAT nprobes=1", False)) == 4  # each query alone through the index
    assert calls.count(("none", True)) == 2  # the exact sample: the flat search, index bypassed
    assert evidence.exact_latency_queries == 2 and np.isfinite(evidence.exact_latency_ms_p50)


def _exact(table, vectors):
    from workbench.retrieval.exact import scan_search

    return scan_search(table, NEW, vectors, ["a", "b", "c", "d"], k=3)
