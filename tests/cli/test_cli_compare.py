"""The comparison CLI: compare, comparisons, report, export-run; exit 2 and nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.models.catalog import CATALOG
from workbench.models.embedder import Embedder
from workbench.models.ref import ModelRef
from workbench.retrieval import encode as retrieval
from workbench.store.comparisons import count_comparisons
from workbench.store.workspace import Workspace

runner = CliRunner()


@pytest.fixture(autouse=True)
def preloaded(monkeypatch: pytest.MonkeyPatch, embedders: dict[str, Embedder]) -> None:
    """Serve the session's already-verified models instead of loading them again per command."""

    def load(ref: ModelRef) -> Embedder:
        return embedders[ref.column]

    monkeypatch.setattr(retrieval, "load_embedder", load)


def invoke(ws: Workspace, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "-w", ws.uri])
    return result.exit_code, result.output


@pytest.mark.slow
def test_compare_list_report_and_export_run(demo_ws: Workspace, tmp_path: Path) -> None:
    code, out = invoke(demo_ws, "compare", "--baseline", OLD_MODEL, "--candidate", NEW_MODEL, "--k", "10,100")
    assert code == 0, out
    assert "nDCG@10 +" in out and "ndcg@100" in out and "rank shifts (mean): overlap@10" in out
    comparison_id = out.split("stored as ")[1].split()[0]
    assert count_comparisons(demo_ws) == 1

    code, out = invoke(demo_ws, "comparisons")
    assert code == 0 and comparison_id in out and f"{OLD_MODEL} → {NEW_MODEL}" in out and "ndcg@10 +" in out
    code, out = invoke(demo_ws, "comparisons", "--json")
    assert json.loads(out)[0]["id"] == comparison_id

    for fmt in ("html", "md", "json", "csv"):
        target = tmp_path / f"report.{fmt}"
        code, out = invoke(demo_ws, "report", comparison_id, "--format", fmt, "--out", str(target))
        assert code == 0 and f"wrote {target}" in out and target.stat().st_size > 0
    assert json.loads((tmp_path / "report.json").read_text())["id"] == comparison_id

    run = tmp_path / "run.txt"
    code, out = invoke(demo_ws, "export-run", "--column", NEW_MODEL, "--out", str(run), "--k", "20")
    assert code == 0 and "wrote 1140 lines for 57 queries" in out
    assert run.read_text().splitlines()[0].endswith(CATALOG[NEW_MODEL].column)


@pytest.mark.slow
def test_compare_json_for_machines_and_no_store(demo_ws: Workspace) -> None:
    code, out = invoke(
        demo_ws, "compare", "-b", OLD_MODEL, "-c", NEW_MODEL, "-e", "demo", "--k", "5", "--json", "--no-store"
    )
    assert code == 0, out
    data = json.loads(out[out.index("{") :])  # the progress bar goes to stderr, mixed in by CliRunner
    assert data["manifest"]["k_values"] == [5] and data["deltas"][0]["metric"] == "ndcg@5"
    assert "per_query" not in data and count_comparisons(demo_ws) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-b", OLD_MODEL, "-c", NEW_MODEL, "-e", "nope"], "no eval set 'nope'"),
        (["-b", OLD_MODEL, "-c", "ghost"], "no vector column 'ghost'"),
        (["-b", OLD_MODEL, "-c", NEW_MODEL, "--k", "0"], "k must be one or more positive integers"),
        (["-b", OLD_MODEL, "-c", NEW_MODEL, "--k", "ten"], "--k must be comma-separated integers"),
        (["-b", OLD_MODEL, "-c", CATALOG[OLD_MODEL].column], "are the same column"),
        (["-b", OLD_MODEL, "-c", NEW_MODEL, "--metrics", "ndcg@x"], "needs an integer cutoff"),
    ],
)
def test_bad_compare_input_exits_2_and_writes_nothing(
    demo_ws: Workspace, args: list[str], message: str
) -> None:
    code, out = invoke(demo_ws, "compare", *args)
    assert code == 2 and message in out and out.count("error:") == 1
    assert count_comparisons(demo_ws) == 0


def test_stale_column_exits_2_unless_allowed(demo_ws: Workspace) -> None:
    demo_ws.table(DEMO_TABLE).update(where="id = 'd0002'", values={"content_hash": "changed"})
    code, out = invoke(demo_ws, "compare", "-b", OLD_MODEL, "-c", NEW_MODEL, "--k", "5")
    assert code == 2 and "1 stale rows" in out and count_comparisons(demo_ws) == 0
    code, out = invoke(demo_ws, "compare", "-b", OLD_MODEL, "-c", NEW_MODEL, "--k", "5", "--allow-stale")
    assert code == 0 and "warning: column" in out and count_comparisons(demo_ws) == 1


def test_report_and_export_run_bad_input_exit_2(demo_ws: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    code, out = invoke(demo_ws, "report", "cmp-nope", "--out", str(target))
    assert code == 2 and "no comparison 'cmp-nope'" in out and not target.exists()
    code, out = invoke(demo_ws, "report", "cmp-nope", "--format", "pdf", "--out", str(target))
    assert code == 2 and "--format 'pdf' is not one of html, md, json, csv" in out
    code, out = invoke(demo_ws, "export-run", "--column", "ghost", "--out", str(tmp_path / "run.txt"))
    assert code == 2 and "no vector column 'ghost'" in out and not (tmp_path / "run.txt").exists()
    code, out = invoke(demo_ws, "comparisons")
    assert code == 0 and "no comparisons yet" in out
