"""Promotion through the evidence gate, rollback, refresh and the audit history, on real LanceDB."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.conftest import lifecycle_snapshot, write_corpus
from workbench.contract import META_ACTIVE, PRODUCTION_TAG
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.errors import (
    ConcurrentChangeError,
    GateFailedError,
    InvalidArgumentError,
    LifecycleError,
    NotFoundError,
    StaleColumnError,
)
from workbench.gate.config import GateConfig, load_gate_config
from workbench.gate.evaluate import GateContext, evaluate_gate
from workbench.models.catalog import CATALOG
from workbench.production.history import history
from workbench.production.promote import check_gate, data_unchanged_since, promote, refresh, rollback
from workbench.store.comparisons import load_comparison
from workbench.store.production import active_column_at, production, production_column
from workbench.store.status import table_status
from workbench.store.workspace import VectorColumn, Workspace, table_metadata

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column


def _column(alias: str) -> VectorColumn:
    ref = CATALOG[alias]
    return VectorColumn(ref.column, ref, ref.src_column, "", {})


def _fake_comparison(**changes: object) -> SimpleNamespace:
    """A comparison-shaped object: the gate reads ``.id``, ``.manifest`` and ``.deltas`` only."""
    manifest = {
        "table": "demo",
        "table_version": 4,
        "corpus_digest": "d" * 64,
        "baseline_column": OLD,
        "candidate_column": NEW,
        "baseline_pin": CATALOG[OLD_MODEL].model_dump(),
        "candidate_pin": CATALOG[NEW_MODEL].model_dump(),
        "n_judged": 50,
    }
    deltas = pd.DataFrame(
        {
            "delta": [0.02, 0.0],
            "ci_low": [-0.005, -0.02],
            "ci_high": [0.05, 0.02],
            "n": [50, 50],
            "mde": [0.05, 0.03],
            "p_permutation": [0.2, 0.9],
        },
        index=pd.Index(["ndcg@10", "recall@100"], name="metric"),
    )
    deltas_change = changes.pop("deltas", None)
    manifest.update(changes)
    return SimpleNamespace(
        id="cmp-test",
        manifest=SimpleNamespace(**manifest),
        deltas=deltas if deltas_change is None else deltas_change,
        segments=pd.DataFrame(),  # no per-segment statistics (no segment guard rail here)
    )


_CONTEXT = GateContext("demo", _column(OLD_MODEL), _column(NEW_MODEL), "d" * 64)


# --- the gate as pure logic ------------------------------------------------------------------


def test_default_gate_passes_a_good_comparison() -> None:
    result = evaluate_gate(GateConfig(), _fake_comparison(), _CONTEXT)
    assert result.passed, result.reasons
    assert (result.verdict, result.exit_code) == ("GO", 0)
    assert [c.name for c in result.checks] == [
        "table",
        "candidate",
        "baseline",
        "data",
        "queries",
        "ndcg@10 non-inferiority",
        "recall@100 delta",
    ]
    assert result.notes == (
        "recall@100: +0.000 [-0.020, +0.020], Holm-adjusted p 0.900 (reported, not part of the verdict)",
    )


@pytest.mark.parametrize(
    ("changes", "failing", "reason", "verdict"),
    [
        ({"table": "other"}, "table", "table 'other'", "NO-GO"),
        ({"candidate_column": "vec__x__00000000"}, "candidate", "candidate is vec__x", "NO-GO"),
        ({"baseline_column": NEW}, "baseline", "current production column is", "NO-GO"),
        ({"baseline_pin": {"fingerprint": "0" * 64}}, "baseline", "baseline", "NO-GO"),
        ({"corpus_digest": "e" * 64}, "data", "rerun `workbench compare` on the current data", "NO-GO"),
        ({"n_judged": 12}, "queries", "12 judged queries", "INCONCLUSIVE"),
        (
            {
                "deltas": pd.DataFrame(
                    {"delta": [-0.2], "ci_low": [-0.3], "ci_high": [-0.1]}, index=["ndcg@10"]
                )
            },
            "ndcg@10 non-inferiority",
            "shown worse by more than the margin 0.0100",
            "NO-GO",
        ),
    ],
    ids=["table", "candidate", "baseline", "pin", "data", "queries", "ci"],
)
def test_gate_failures_name_the_reason(changes: dict, failing: str, reason: str, verdict: str) -> None:
    result = evaluate_gate(GateConfig(), _fake_comparison(**changes), _CONTEXT)
    assert not result.passed and result.verdict == verdict
    failed = {c.name: c.detail for c in result.checks if not c.passed}
    assert failing in failed
    assert reason in failed[failing]


def test_gate_metric_missing_from_comparison_fails_with_what_it_has() -> None:
    deltas = pd.DataFrame({"delta": [0.1], "ci_low": [0.05], "ci_high": [0.15]}, index=["ndcg@10"])
    result = evaluate_gate(GateConfig(), _fake_comparison(deltas=deltas), _CONTEXT)
    assert result.reasons == [
        "recall@100: not measured by comparison cmp-test (it has: ndcg@10); rerun `workbench compare` "
        "with that cutoff in --k"
    ]


def test_gate_recall_tolerance_and_nan_ci_are_undecided() -> None:
    nan = float("nan")
    deltas = pd.DataFrame(
        {"delta": [0.1, -0.011], "ci_low": [nan, -0.03], "ci_high": [nan, 0.01]},
        index=["ndcg@10", "recall@100"],
    )
    result = evaluate_gate(GateConfig(), _fake_comparison(deltas=deltas), _CONTEXT)
    assert result.verdict == "INCONCLUSIVE"
    assert [c.name for c in result.checks if not c.passed] == ["ndcg@10 non-inferiority", "recall@100 delta"]
    assert result.queries_needed is None  # no n / mde stored: cannot be estimated


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        (
            {"min_ci_low": {"ndcg10": -0.01}},
            r"gate min_ci_low: unknown metric 'ndcg10'; allowed: ndcg@k, recall@k",
        ),
        ({"min_delta": {"bleu@4": 0.0}}, r"gate min_delta: unknown metric 'bleu@4'; allowed: .*hit_rate@k"),
        ({"min_delta": {"recall@0": 0.0}}, r"needs an integer cutoff k >= 1"),
        ({"min_ci_low": {"ndcg@10": float("inf")}}, "must be a finite number"),
        ({"min_ci_low": {}, "min_delta": {}}, "at least one metric rule"),
        (
            {"min_querys": 10},
            r"unknown gate setting 'min_querys'; allowed settings: primary, superiority, min_ci_low",
        ),
        (
            {"primary": "mrr@10"},
            r"gate primary metric 'mrr@10' needs a non-inferiority margin in \[min_ci_low\]",
        ),
        ({"primary": "ndcg10"}, r"gate primary: unknown metric 'ndcg10'"),
        ({"min_queries": 0}, "at least 1"),
    ],
)
def test_bad_gate_config_is_a_clear_error(settings: dict, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        GateConfig(**settings)


def test_gate_config_normalises_names_and_reads_toml(tmp_path: Path) -> None:
    assert GateConfig(min_ci_low={"NDCG@10": 0.0}).min_ci_low == {"ndcg@10": 0.0}
    path = tmp_path / "gate.toml"
    path.write_text('min_queries = 5\n[min_delta]\n"mrr@10" = -0.02\n')
    config = load_gate_config(path)
    assert (config.min_queries, config.min_delta, config.metrics) == (
        5,
        {"mrr@10": -0.02},
        ["ndcg@10", "mrr@10"],
    )
    path.write_text('[min_delta]\n"nope@1" = 0\n')
    with pytest.raises(InvalidArgumentError, match=r"gate.toml: gate min_delta: unknown metric 'nope@1'"):
        load_gate_config(path)
    with pytest.raises(NotFoundError, match="does not exist"):
        load_gate_config(tmp_path / "missing.toml")


# --- promotion on a real workspace -----------------------------------------------------------


def test_demo_starts_with_an_initial_production(demo_ws: Workspace) -> None:
    table = demo_ws.table("demo")
    assert production_column(table) == OLD
    assert table.tags.get_version(PRODUCTION_TAG) == table.tags.get_version("production-1")
    (event,) = history(demo_ws, "demo")
    assert (event.action, event.initial, event.to_column, event.from_column) == ("promote", True, OLD, None)


def test_promote_with_passing_gate_is_metadata_only(compared_ws: Workspace, comparison_id: str) -> None:
    table = compared_ws.table("demo")
    before = production(table)
    files_before = _data_files(table)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record = promote(
        compared_ws, "demo", NEW_MODEL, comparison=comparison_id, actor="alice", reason="better", now=when
    )
    table = compared_ws.table("demo")
    assert record.to_column == NEW and record.from_column == OLD
    assert (record.from_version, record.to_version) == (before.version, table.version)
    assert (record.actor, record.at, record.reason, record.tag) == (
        "alice",
        when.isoformat(),
        "better",
        "production-2",
    )
    assert record.gate is not None and record.gate.passed and record.comparison_id == comparison_id
    assert production(table).column == NEW
    assert table.tags.get_version("production-2") == table.version
    assert table.tags.get_version("production-1") == before.version  # the previous production stays reachable
    assert active_column_at(table, before.version) == OLD
    assert table_metadata(table)[META_ACTIVE] == NEW
    assert data_unchanged_since(table.to_lance(), before.version)  # one UpdateConfig: no data copied
    assert _data_files(table) == files_before
    assert history(compared_ws, "demo")[-1] == record


def _data_files(table) -> list[list[str]]:
    return [[f.path for f in frag.metadata.files] for frag in table.to_lance().get_fragments()]


def test_failing_gate_refuses_with_reasons_and_changes_nothing(
    compared_ws: Workspace, comparison_id: str
) -> None:
    before = lifecycle_snapshot(compared_ws)
    strict = GateConfig(min_ci_low={"ndcg@10": 0.5}, min_delta={"recall@100": 0.2}, min_queries=100)
    with pytest.raises(GateFailedError, match=r"the gate says (NO-GO|INCONCLUSIVE) for .*ndcg@10 ") as err:
        promote(compared_ws, "demo", NEW, comparison=comparison_id, gate=strict)
    assert len(err.value.reasons) == 3 and err.value.verdict in ("NO-GO", "INCONCLUSIVE")
    assert lifecycle_snapshot(compared_ws) == before


def test_workspace_gate_file_applies(compared_ws: Workspace, comparison_id: str) -> None:
    (Path(compared_ws.uri) / "gate.toml").write_text('[min_ci_low]\n"ndcg@10" = 0.9\n')
    with pytest.raises(GateFailedError, match=r"the gate says NO-GO .*shown not better by at least 0\.9000"):
        promote(compared_ws, "demo", NEW, comparison=comparison_id)


def test_force_overrides_a_failing_gate_and_records_why(compared_ws: Workspace, comparison_id: str) -> None:
    strict = GateConfig(min_ci_low={"ndcg@10": 0.5})
    record = promote(
        compared_ws, "demo", NEW, comparison=comparison_id, gate=strict, force=True, reason="incident 42"
    )
    assert record.forced and record.reason == "incident 42"
    assert record.gate is not None and not record.gate.passed
    stored = history(compared_ws, "demo")[-1]
    assert stored.gate == record.gate and stored.gate.config.min_ci_low == {"ndcg@10": 0.5}
    assert production_column(compared_ws.table("demo")) == NEW


def test_force_without_comparison_is_recorded_as_such(demo_ws: Workspace) -> None:
    record = promote(demo_ws, "demo", NEW, force=True, reason="old model deleted upstream")
    assert (record.gate, record.comparison_id, record.forced) == (None, None, True)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"column": "vec__nope__12345678"},
            NotFoundError,
            r"no vector column 'vec__nope__12345678'.*columns: vec__",
        ),
        ({"column": OLD}, LifecycleError, "already is production"),
        ({"column": OLD_MODEL}, LifecycleError, "already is production"),
        ({}, GateFailedError, "needs evidence: run `workbench compare --baseline"),
        ({"comparison": "cmp-nope"}, NotFoundError, "no comparison 'cmp-nope'"),
        ({"force": True}, InvalidArgumentError, "--force needs --reason"),
        ({"force": True, "reason": "  "}, InvalidArgumentError, "--force needs --reason"),
        ({"initial": True}, LifecycleError, "initial promotion is only for a table without production"),
    ],
    ids=[
        "unknown-column",
        "already-production",
        "alias-already-production",
        "no-evidence",
        "unknown-comparison",
        "force-no-reason",
        "force-blank-reason",
        "initial-twice",
    ],
)
def test_bad_promotions_are_refused_and_change_nothing(
    compared_ws: Workspace, kwargs: dict, error: type[Exception], match: str
) -> None:
    before = lifecycle_snapshot(compared_ws)
    args = {"column": NEW, **kwargs}
    with pytest.raises(error, match=match):
        promote(compared_ws, "demo", args.pop("column"), **args)
    assert lifecycle_snapshot(compared_ws) == before


def test_unknown_table_is_not_found(compared_ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no table 'nope'"):
        promote(compared_ws, "nope", NEW)


def test_stale_column_is_refused_even_with_force(compared_ws: Workspace, comparison_id: str) -> None:
    table = compared_ws.table("demo")
    table.update(where="id = 'd0001'", values={"content_hash": "edited-outside-the-workbench"})
    before = lifecycle_snapshot(compared_ws)
    with pytest.raises(
        StaleColumnError, match=r"vec__all_minilm_l6_v2__91f7d483 has 0 missing and 1 stale rows"
    ):
        promote(compared_ws, "demo", NEW, comparison=comparison_id, force=True, reason="try")
    assert lifecycle_snapshot(compared_ws) == before


def test_comparison_on_older_data_fails_the_data_check(
    compared_ws: Workspace, comparison_id: str, embedders, tmp_path: Path
) -> None:
    ingest(
        compared_ws,
        write_corpus(tmp_path / "more.jsonl", {"x1": ("New", "A new document.")}),
        table="demo",
        embedders=embedders,
    )
    before = lifecycle_snapshot(compared_ws)
    verdict = check_gate(compared_ws, "demo", NEW, comparison=comparison_id)
    assert [c.name for c in verdict.checks if not c.passed] == ["data"]
    with pytest.raises(GateFailedError, match=r"ran on table version 4; documents changed since"):
        promote(compared_ws, "demo", NEW, comparison=comparison_id)
    assert lifecycle_snapshot(compared_ws) == before


def test_first_promotion_needs_initial(demo_ws: Workspace, tmp_path: Path) -> None:
    ingest(demo_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha")}), table="fresh")
    with pytest.raises(NotFoundError, match="no vector column"):
        promote(demo_ws, "fresh", NEW)
    from workbench.embedding.run import embed

    embed(demo_ws, "fresh", CATALOG[OLD_MODEL])
    with pytest.raises(LifecycleError, match=r"no production column yet; .*--initial"):
        promote(demo_ws, "fresh", OLD)
    embed(demo_ws, "fresh", CATALOG[NEW_MODEL])
    # the hint records today's (old) column, never the new one: an initial promotion skips the gate
    with pytest.raises(LifecycleError, match=rf"serves today .*`workbench promote {OLD} --initial -t fresh`"):
        promote(demo_ws, "fresh", NEW)
    record = promote(demo_ws, "fresh", OLD, initial=True)
    assert record.initial and record.tag == "production-1" and record.gate is None


# --- the gate as a dry run ----------------------------------------------------------------------


def test_check_gate_is_the_verdict_promote_records_and_writes_nothing(
    compared_ws: Workspace, comparison_id: str
) -> None:
    before = lifecycle_snapshot(compared_ws)
    verdict = check_gate(compared_ws, "demo", NEW_MODEL, comparison=comparison_id)
    assert verdict.passed and verdict.comparison_id == comparison_id
    assert [c.name for c in verdict.checks][:5] == ["table", "candidate", "baseline", "data", "queries"]
    assert (
        check_gate(compared_ws, "demo", NEW, comparison=load_comparison(compared_ws, comparison_id))
        == verdict
    )
    assert lifecycle_snapshot(compared_ws) == before
    record = promote(compared_ws, "demo", NEW, comparison=comparison_id)
    assert record.gate == verdict


def test_check_gate_reports_a_failing_gate_that_promote_refuses(
    compared_ws: Workspace, comparison_id: str
) -> None:
    strict = GateConfig(min_ci_low={"ndcg@10": 0.5})
    verdict = check_gate(compared_ws, "demo", NEW, comparison=comparison_id, gate=strict)
    assert not verdict.passed and [c.name for c in verdict.checks if not c.passed] == [
        "ndcg@10 non-inferiority"
    ]
    with pytest.raises(GateFailedError) as err:
        promote(compared_ws, "demo", NEW, comparison=comparison_id, gate=strict)
    assert err.value.reasons == verdict.reasons


def test_promote_decides_with_check_gate(
    compared_ws: Workspace, comparison_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("workbench.production.promote")  # the package's `promote` is the verb

    real = module.check_gate
    calls: list[tuple[str, str]] = []

    def refusing(ws: Workspace, table: str, column: str, **options: object):
        calls.append((table, column))
        return real(ws, table, column, **options).model_copy(update={"verdict": "NO-GO"})

    monkeypatch.setattr(module, "check_gate", refusing)
    with pytest.raises(GateFailedError, match="the gate says NO-GO"):
        promote(compared_ws, "demo", NEW_MODEL, comparison=comparison_id)
    assert calls == [("demo", NEW)]


@pytest.mark.parametrize(
    ("table", "column", "comparison", "error", "match"),
    [
        ("demo", NEW, "cmp-nope", NotFoundError, "no comparison 'cmp-nope'"),
        ("demo", "vec__nope__12345678", None, NotFoundError, "no vector column 'vec__nope__12345678'"),
        ("nope", NEW, None, NotFoundError, "no table 'nope'"),
        ("fresh", OLD, None, LifecycleError, r"'fresh' has no production column yet.*--initial"),
    ],
    ids=["unknown-comparison", "unknown-column", "unknown-table", "no-production"],
)
def test_check_gate_refuses_what_it_cannot_judge(
    compared_ws: Workspace,
    comparison_id: str,
    embedders,
    tmp_path: Path,
    table: str,
    column: str,
    comparison: str | None,
    error: type[Exception],
    match: str,
) -> None:
    ingest(compared_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha")}), table="fresh")
    from workbench.embedding.run import embed

    embed(compared_ws, "fresh", CATALOG[OLD_MODEL], embedder=embedders[OLD])
    with pytest.raises(error, match=match):
        check_gate(compared_ws, table, column, comparison=comparison or comparison_id)


def test_concurrent_promotion_is_detected(
    compared_ws: Workspace, comparison_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("workbench.production.promote")  # the package's `promote` is the verb
    monkeypatch.setattr(module, "next_number", lambda ws, table: 1)  # as if another took it
    with pytest.raises(
        ConcurrentChangeError, match=r"another promotion of 'demo' is in progress \(production-1 exists\)"
    ):
        promote(compared_ws, "demo", NEW, comparison=comparison_id)
    assert production_column(compared_ws.table("demo")) == OLD


def test_documents_changing_during_promotion_abort_it(
    compared_ws: Workspace, comparison_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("workbench.production.promote")  # the package's `promote` is the verb

    real = module.next_number

    def meanwhile(ws: Workspace, table) -> int:
        ws.db.open_table("demo").delete("id = 'd0002'")  # another process writes
        return real(ws, table)

    monkeypatch.setattr(module, "next_number", meanwhile)
    with pytest.raises(LifecycleError, match=r"changed during the promotion.*nothing was promoted"):
        promote(compared_ws, "demo", NEW, comparison=comparison_id)
    table = compared_ws.table("demo")
    assert production_column(table) == OLD
    assert table_status(table).active_column == OLD  # status reads the tag, as serving does
    assert "production-2" not in table.tags.list()


# --- rollback ----------------------------------------------------------------------------------


def test_rollback_returns_to_the_previous_production_version(
    compared_ws: Workspace, comparison_id: str
) -> None:
    first = production(compared_ws.table("demo"))
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    record = rollback(compared_ws, "demo", actor="bob", reason="latency")
    table = compared_ws.table("demo")
    assert production(table) == first
    assert table_status(table).active_column == OLD  # status reads the tag, as serving does
    assert (record.action, record.from_column, record.to_column, record.to_version) == (
        "rollback",
        NEW,
        OLD,
        first.version,
    )
    assert (record.actor, record.reason) == ("bob", "latency")
    before = lifecycle_snapshot(compared_ws)
    with pytest.raises(LifecycleError, match="no earlier production version of 'demo'"):
        rollback(compared_ws, "demo")
    assert lifecycle_snapshot(compared_ws) == before


def test_successive_promotions_and_rollbacks_walk_the_stack(
    compared_ws: Workspace, comparison_id: str
) -> None:
    v1 = production(compared_ws.table("demo")).version
    v2 = promote(compared_ws, "demo", NEW, comparison=comparison_id).to_version
    assert rollback(compared_ws, "demo").to_version == v1
    v3 = promote(compared_ws, "demo", NEW, comparison=comparison_id).to_version  # data unchanged: gate passes
    assert len({v1, v2, v3}) == 3
    assert rollback(compared_ws, "demo").to_version == v1
    actions = [e.action for e in history(compared_ws, "demo")]
    assert actions == ["promote", "promote", "rollback", "promote", "rollback"]
    assert [e.seq for e in history(compared_ws, "demo")] == [1, 2, 3, 4, 5]


def test_rollback_without_any_production(demo_ws: Workspace, tmp_path: Path) -> None:
    ingest(demo_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha")}), table="fresh")
    before = lifecycle_snapshot(demo_ws, "fresh")
    with pytest.raises(LifecycleError, match="'fresh' has no production version, so nothing to roll back"):
        rollback(demo_ws, "fresh")
    assert lifecycle_snapshot(demo_ws, "fresh") == before


# --- refresh -----------------------------------------------------------------------------------


def test_refresh_publishes_dual_written_documents(compared_ws: Workspace, embedders, tmp_path: Path) -> None:
    old = production(compared_ws.table("demo"))
    with pytest.raises(LifecycleError, match="already is the latest version"):
        refresh(compared_ws, "demo")
    ingest(
        compared_ws,
        write_corpus(tmp_path / "n.jsonl", {"n1": ("Zebra", "Zebras sleep standing.")}),
        table="demo",
        embedders=embedders,
    )
    record = refresh(compared_ws, "demo", reason="nightly ingest")
    table = compared_ws.table("demo")
    assert production(table) == type(old)(table.version, OLD)
    assert (record.action, record.tag, record.from_version) == ("refresh", "production-2", old.version)
    table.checkout(PRODUCTION_TAG)
    assert table.count_rows("id = 'n1'") == 1
    assert rollback(compared_ws, "demo").to_version == old.version
