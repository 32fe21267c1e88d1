"""The production CLI: promote, rollback, refresh, history, search, check, retire; exit codes and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import lifecycle_snapshot, write_corpus
from workbench.cli.app import app
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.models.catalog import CATALOG
from workbench.store.production import production_column
from workbench.store.workspace import Workspace

runner = CliRunner()
OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column


def _run(ws: Workspace, *args: str) -> tuple[int, str]:
    """Exit code and stdout (JSON) — or, on an error, stderr (the one ``error:`` line)."""
    result = runner.invoke(app, [*args, "-w", ws.uri])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.stderr + result.stdout


def test_promote_history_rollback_round_trip(compared_ws: Workspace, comparison_id: str) -> None:
    code, out = _run(compared_ws, "promote", NEW_MODEL, "--comparison", comparison_id, "--actor", "dana")
    assert code == 0, out
    assert f"production of 'demo' → {NEW}" in out and "gate GO" in out
    assert "  ok   ndcg@10 +0." in out and "shown not worse by more than 0.0100" in out
    code, out = _run(compared_ws, "rollback", "--reason", "p95 latency", "--json")
    assert code == 0, out
    assert json.loads(out)["to_column"] == OLD
    code, out = _run(compared_ws, "history", "--json")
    events = json.loads(out)
    assert [e["action"] for e in events] == ["promote", "promote", "rollback"]
    assert events[1]["actor"] == "dana" and events[1]["gate"]["passed"] is True
    assert events[1]["gate"]["verdict"] == "GO"
    assert events[1]["comparison_id"] == comparison_id and events[2]["reason"] == "p95 latency"
    code, out = _run(compared_ws, "history")
    assert code == 0 and out.count("\n") == 3 and "#3" in out and "dana" in out


def test_forced_promotion_records_the_reason(
    compared_ws: Workspace, comparison_id: str, tmp_path: Path
) -> None:
    gate = tmp_path / "strict.toml"
    gate.write_text('[min_ci_low]\n"ndcg@10" = 0.9\n')
    code, out = _run(compared_ws, "promote", NEW, "-c", comparison_id, "--gate", str(gate))
    assert code == 2 and "error: the gate says NO-GO" in out and "shown not better by at least 0.9000" in out
    code, out = _run(
        compared_ws,
        "promote",
        NEW,
        "-c",
        comparison_id,
        "--gate",
        str(gate),
        "--force",
        "--reason",
        "exec call",
    )
    assert code == 0, out
    assert "gate NO-GO" in out and "forced" in out and "reason: exec call" in out and "FAIL ndcg@10" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["promote", "vec__nope__12345678"], "no vector column 'vec__nope__12345678'"),
        (["promote", OLD], "already is production"),
        (["promote", NEW], "needs evidence"),
        (["promote", NEW, "--force"], "--force needs --reason"),
        (["promote", NEW, "-c", "cmp-nope"], "no comparison 'cmp-nope'"),
        (["rollback"], "no earlier production version"),
        (["retire", OLD], "is the production column"),
        (["retire", NEW, "--grace", "soon"], "duration 'soon' is not understood"),
        (["retire", NEW], "grace period of 7 days"),
        (["search", ""], "the query is empty"),
        (["search", "x", "--k", "0"], "k must be a positive integer"),
        (["refresh"], "already is the latest version"),
        (["promote", NEW, "--table", "nope"], "no table 'nope'"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(compared_ws: Workspace, args: list[str], message: str) -> None:
    before = lifecycle_snapshot(compared_ws)
    code, out = _run(compared_ws, *args)
    assert code == 2, out
    assert out.startswith("error: ") and message in out
    assert lifecycle_snapshot(compared_ws) == before


def test_unknown_metric_in_a_gate_file(compared_ws: Workspace, comparison_id: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate.toml"
    gate.write_text('[min_delta]\n"ndgc@10" = 0\n')
    before = lifecycle_snapshot(compared_ws)
    code, out = _run(compared_ws, "promote", NEW, "-c", comparison_id, "--gate", str(gate))
    assert code == 2
    assert "unknown metric 'ndgc@10'; allowed: ndcg@k, recall@k, mrr@k, map@k, precision@k, hit_rate@k" in out
    assert lifecycle_snapshot(compared_ws) == before


@pytest.mark.slow
def test_search_and_check(compared_ws: Workspace) -> None:
    code, out = _run(compared_ws, "search", "cooking rice", "--k", "3")
    assert code == 0, out
    assert f"production v4 of 'demo': {OLD}" in out and "  1. " in out and "  3. " in out
    code, out = _run(compared_ws, "search", "cooking rice", "--k", "2", "--json")
    data = json.loads(out)
    assert data["column"] == OLD and len(data["hits"]) == 2 and data["hits"][0]["rank"] == 1
    code, out = _run(compared_ws, "check")
    assert code == 0 and out.startswith("ok: production of 'demo': v4")
    code, out = _run(compared_ws, "check", "--json")
    assert json.loads(out)["ok"] is True


def test_check_fails_with_exit_1(compared_ws: Workspace, tmp_path: Path) -> None:
    ingest(compared_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha")}), table="fresh")
    code, out = _run(compared_ws, "check", "--table", "fresh")
    assert code == 1 and "FAILED" in out and "no 'production' tag" in out
    code, out = _run(compared_ws, "check", "--table", "nope")
    assert code == 2 and out.startswith("error: no table 'nope'")


def test_refresh_and_retire(compared_ws: Workspace, comparison_id: str, embedders, tmp_path: Path) -> None:
    assert _run(compared_ws, "promote", NEW, "-c", comparison_id)[0] == 0
    ingest(
        compared_ws,
        write_corpus(tmp_path / "n.jsonl", {"n1": ("N", "new")}),
        table="demo",
        embedders=embedders,
    )
    code, out = _run(compared_ws, "refresh", "--reason", "nightly")
    assert code == 0 and "refreshed 'demo'" in out and "reason: nightly" in out
    code, out = _run(compared_ws, "retire", OLD_MODEL, "--grace", "0", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["column"] == OLD and f"candidate-{OLD}" in data["deleted_tags"]
    assert data["record"]["action"] == "retire"
    assert production_column(compared_ws.table("demo")) == NEW
