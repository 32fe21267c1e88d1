"""The decision CLI: leaderboard, plan, matryoshka, adapter; exit 2 and nothing written on bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.contract import ADAPTERS_TABLE
from workbench.decide import plan
from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.models.catalog import CATALOG
from workbench.models.embedder import Embedder
from workbench.models.ref import ModelRef
from workbench.production.promote import promote
from workbench.retrieval import encode as retrieval
from workbench.store.workspace import Workspace, open_workspace

runner = CliRunner()


@pytest.fixture(autouse=True)
def preloaded(monkeypatch: pytest.MonkeyPatch, embedders: dict[str, Embedder]) -> None:
    """Serve the session's already-verified models instead of loading them again per command."""

    def load(ref: ModelRef) -> Embedder:
        return embedders[ref.column]

    monkeypatch.setattr(retrieval, "load_embedder", load)
    monkeypatch.setattr(plan, "load_embedder", load)
    monkeypatch.setattr("workbench.decide.adapters.binding.load_embedder", load)


def invoke(ws: Workspace, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "-w", ws.uri])
    return result.exit_code, result.output


def invoke_json(ws: Workspace, *args: str) -> Any:
    """Run with ``--json``; parse stdout only (progress bars go to stderr)."""
    result = runner.invoke(app, [*args, "--json", "-w", ws.uri])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_leaderboard_prints_quality_cost_and_advice(demo_ws: Workspace) -> None:
    code, out = invoke(
        demo_ws, "leaderboard", "-e", "demo", "--throughput-sample", "8", "--price", f"{NEW_MODEL}=0.02"
    )
    assert code == 0, out
    assert "ndcg@10" in out and "Holm p=" in out and "1536 B/vec" in out and "$0.02/1M tok" in out
    assert "Stay put" in out or "Migrate to" in out
    data = invoke_json(demo_ws, "leaderboard", "-e", "demo", "--throughput-sample", "0")
    assert data["baseline"] == OLD_MODEL  # production is the baseline by default
    assert {r["label"] for r in data["rows"]} == {OLD_MODEL, NEW_MODEL}
    assert all(r["price_per_million"] is None for r in data["rows"])  # unknown price: empty, not 0


@pytest.mark.slow
def test_plan_prints_an_estimate(demo_ws: Workspace) -> None:
    data = invoke_json(demo_ws, "plan", "-m", NEW_MODEL, "--sample", "8", "--index", "ivf_pq")
    assert (
        data["rows"] > 0
        and data["tokens"] > data["rows"]
        and data["cost"] is None
        and data["index_bytes"] > 0
    )


@pytest.mark.slow
def test_matryoshka_sweep_and_pin(demo_ws: Workspace, tmp_path) -> None:
    html = tmp_path / "curve.html"
    code, out = invoke(
        demo_ws, "matryoshka", "sweep", "-m", NEW_MODEL, "-e", "demo", "--dims", "64", "--html", str(html)
    )
    assert code == 0, out
    assert "d=64" in out and "d=384" in out and "retained 100%" in out and html.stat().st_size > 0
    code, out = invoke(demo_ws, "matryoshka", "pin", NEW_MODEL, "--dim", "128")
    assert code == 0, out
    assert "minilm-l6-d128" in open_workspace(demo_ws.uri).config.models and "_d128__" in out


@pytest.mark.slow
def test_adapter_fit_list_evaluate_search(demo_ws: Workspace) -> None:
    manifest = invoke_json(demo_ws, "adapter", "fit", "--new", NEW_MODEL, "--old", OLD_MODEL)
    adapter_id = manifest["id"]
    code, out = invoke(demo_ws, "adapter", "list")
    assert code == 0 and adapter_id in out
    code, out = invoke(demo_ws, "adapter", "evaluate", adapter_id, "-e", "demo")
    assert code == 0, out
    assert "adapted→old" in out and "recovery" in out
    code, out = invoke(demo_ws, "adapter", "search", adapter_id, "roll back a model", "--k", "3")
    assert code == 0, out
    assert f"via adapter {adapter_id}" in out and "  3. " in out


@pytest.mark.slow
def test_search_through_an_adapter_then_refused_when_production_moves(
    compared_ws: Workspace, comparison_id: str
) -> None:
    adapter_id = invoke_json(compared_ws, "adapter", "fit", "--new", NEW_MODEL, "--old", OLD_MODEL)["id"]
    old_column = CATALOG[OLD_MODEL].column
    found = invoke_json(compared_ws, "search", "roll back a model", "--k", "3", "--adapter", adapter_id)
    assert found["column"] == old_column and found["model"].endswith(f"via adapter {adapter_id}")
    assert len(found["hits"]) == 3
    promote(compared_ws, DEMO_TABLE, CATALOG[NEW_MODEL].column, comparison=comparison_id)
    result = runner.invoke(
        app, ["search", "roll back a model", "--adapter", adapter_id, "-w", compared_ws.uri]
    )
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0  # one line
    assert f"but adapter {adapter_id} maps into {old_column}" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["leaderboard", "-e", "demo", "--models", NEW_MODEL], "at least two candidate columns"),
        (["leaderboard", "-e", "demo", "--price", "minilm-l6=free"], "--price wants ALIAS=USD_PER_1M_TOKENS"),
        (["leaderboard", "-e", "nope"], "no eval set 'nope'"),
        (["plan", "-m", NEW_MODEL, "--workers", "0"], "workers must be at least 1"),
        (["plan", "-m", "nope"], "unknown model alias 'nope'"),
        (["matryoshka", "sweep", "-m", NEW_MODEL, "-e", "demo", "--dims", "1000"], "only 384"),
        (["matryoshka", "sweep", "-m", NEW_MODEL, "-e", "demo", "--dims", "a,b"], "comma-separated integers"),
        (["matryoshka", "pin", NEW_MODEL, "--dim", "384"], "full dimension"),
        (["adapter", "fit", "--new", NEW_MODEL, "--old", NEW_MODEL], "maps between two models"),
        (
            ["adapter", "fit", "--new", NEW_MODEL, "--old", OLD_MODEL, "--kind", "linear"],
            "unknown adapter kind",
        ),
        (["adapter", "evaluate", "nope", "-e", "demo"], "no adapter 'nope'"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(demo_ws: Workspace, args: list[str], message: str) -> None:
    before = demo_ws.table(DEMO_TABLE).version, sorted(demo_ws.table_names(include_internal=True))
    config = (open_workspace(demo_ws.uri).config.models, open_workspace(demo_ws.uri).config.prices)
    code, out = invoke(demo_ws, *args)
    assert code == 2, out
    assert message in out and out.count("\n") <= 2
    assert (demo_ws.table(DEMO_TABLE).version, sorted(demo_ws.table_names(include_internal=True))) == before
    reopened = open_workspace(demo_ws.uri).config
    assert (reopened.models, reopened.prices) == config
    assert not demo_ws.has_table(ADAPTERS_TABLE)
