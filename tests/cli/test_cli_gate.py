"""``workbench gate``: the verdict as a dry run with exit codes 0 / 1 / 3 (2 = error), and
``promote`` refusing INCONCLUSIVE without ``--force --reason`` — on a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import lifecycle_snapshot
from workbench.cli.app import app
from workbench.demo import NEW_MODEL
from workbench.production.history import history
from workbench.store.workspace import Workspace

runner = CliRunner()


def _run(ws: Workspace, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "-w", ws.uri])
    return result.exit_code, result.stdout, result.stderr


def _gate_file(ws: Workspace, text: str) -> None:
    (Path(ws.uri) / "gate.toml").write_text(text, encoding="utf-8")


def test_gate_go_exits_0_and_writes_nothing(compared_ws: Workspace, comparison_id: str) -> None:
    before = lifecycle_snapshot(compared_ws)
    code, out, err = _run(compared_ws, "gate", NEW_MODEL, "--comparison", comparison_id)
    assert code == 0, out + err
    assert out.startswith(f"GO: every check passed on comparison {comparison_id}")
    assert (
        "  ok   ndcg@10 +0." in out
        and "(inverted sign-flip test): shown not worse by more than 0.0100" in out
    )
    assert "Holm-adjusted p" in out  # the other metrics, reported only
    assert lifecycle_snapshot(compared_ws) == before


def test_gate_no_go_exits_1(compared_ws: Workspace, comparison_id: str) -> None:
    _gate_file(compared_ws, '[min_ci_low]\n"ndcg@10" = 0.9\n')
    code, out, _ = _run(compared_ws, "gate", NEW_MODEL, "-c", comparison_id, "--json")
    assert code == 1
    data = json.loads(out)
    assert (data["verdict"], data["exit_code"], data["passed"]) == ("NO-GO", 1, False)
    failed = [c for c in data["checks"] if c["outcome"] == "fail"]
    assert [c["name"] for c in failed] == ["ndcg@10 non-inferiority"]
    assert "shown not better by at least 0.9000" in failed[0]["detail"]


def test_gate_inconclusive_exits_3_and_says_how_many_queries(
    compared_ws: Workspace, comparison_id: str
) -> None:
    _gate_file(compared_ws, "min_queries = 500\n")
    code, out, _ = _run(compared_ws, "gate", NEW_MODEL, "-c", comparison_id)
    assert code == 3
    assert out.startswith("INCONCLUSIVE: ")
    assert "more judged queries (500 in all) would likely decide" in out
    assert "  ??   " in out and "judged queries (gate needs at least 500)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gate", NEW_MODEL, "-c", "cmp-nope"], "no comparison 'cmp-nope'"),
        (["gate", "vec__nope__12345678", "-c", "cmp-nope"], "no vector column 'vec__nope__12345678'"),
        (["gate", NEW_MODEL, "-c", "x", "--gate", "missing.toml"], "gate file 'missing.toml' does not exist"),
    ],
)
def test_gate_errors_exit_2_with_one_line(compared_ws: Workspace, args: list[str], message: str) -> None:
    before = lifecycle_snapshot(compared_ws)
    code, out, err = _run(compared_ws, *args)
    assert code == 2 and message in err and err.count("\n") == 1 and out == ""
    assert lifecycle_snapshot(compared_ws) == before


def test_bad_gate_file_is_an_error_not_a_verdict(compared_ws: Workspace, comparison_id: str) -> None:
    _gate_file(compared_ws, 'primary = "mrr@10"\n')
    code, _, err = _run(compared_ws, "gate", NEW_MODEL, "-c", comparison_id)
    assert code == 2 and "gate primary metric 'mrr@10' needs a non-inferiority margin" in err


def test_promote_on_inconclusive_needs_force_and_reason_and_records_the_verdict(
    compared_ws: Workspace, comparison_id: str
) -> None:
    _gate_file(compared_ws, "min_queries = 500\n")
    before = lifecycle_snapshot(compared_ws)
    code, _, err = _run(compared_ws, "promote", NEW_MODEL, "-c", comparison_id)
    assert code == 2 and "error: the gate says INCONCLUSIVE" in err and "more queries" in err
    code, _, err = _run(compared_ws, "promote", NEW_MODEL, "-c", comparison_id, "--force")
    assert code == 2 and "--force needs --reason" in err
    assert lifecycle_snapshot(compared_ws) == before
    code, out, err = _run(
        compared_ws, "promote", NEW_MODEL, "-c", comparison_id, "--force", "--reason", "launch deadline"
    )
    assert code == 0, err
    assert "gate INCONCLUSIVE" in out and "forced" in out
    record = history(compared_ws, "demo")[-1]
    assert record.forced and record.gate is not None and record.gate.verdict == "INCONCLUSIVE"
    assert any("judged queries (gate needs at least 500)" in r for r in record.gate.reasons)
    gate = record.gate
    assert gate.queries_needed is not None and gate.queries_needed >= 500 and gate.n_judged is not None
    assert gate.more_queries == gate.queries_needed - gate.n_judged
