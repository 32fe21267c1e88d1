"""Eval sets from the command line: a name is never taken over, every version is ``NAME@VERSION``.

Issue 22, item 3: the refusal is one line, exit 2, nothing written; ``--eval-set NAME@VERSION``
works wherever ``--eval-set`` is taken, and an unknown version lists the versions there are.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.test_hardening import one_line_exit_2
from tests.corpus.test_readers import DOCS, QUERIES, write_beir
from workbench.cli.app import app
from workbench.comparison.judging import add_judgements
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.models.embedder import Embedder
from workbench.models.ref import ModelRef
from workbench.retrieval import encode as retrieval
from workbench.store.comparisons import list_comparisons, load_comparison
from workbench.store.evalsets import eval_set_versions, load_eval_set
from workbench.store.workspace import Workspace, open_workspace

runner = CliRunner()


@pytest.fixture
def preloaded(monkeypatch: pytest.MonkeyPatch, embedders: dict[str, Embedder]) -> None:
    """Serve the session's already-verified models instead of loading them again per command."""

    def load(ref: ModelRef) -> Embedder:
        return embedders[ref.column]

    monkeypatch.setattr(retrieval, "load_embedder", load)


def test_ingest_refuses_a_name_another_table_holds(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    first = write_beir(tmp_path / "one" / "scifact", DOCS, QUERIES, "q1\ta\t2\n")
    second = write_beir(tmp_path / "two" / "scifact", DOCS, QUERIES, "q1\tb\t1\n")
    assert runner.invoke(app, ["ingest", str(first), "-w", str(ws_path)]).exit_code == 0
    ws = open_workspace(ws_path)
    before = (ws.table_names(), load_eval_set(ws, "scifact"), eval_set_versions(ws, "scifact"))

    one_line_exit_2(
        ["ingest", str(second), "-t", "scifact2", "-w", str(ws_path)],
        r"^error: eval set 'scifact' belongs to table 'scifact'; name this one with --eval-set NAME",
    )
    assert (ws.table_names(), load_eval_set(ws, "scifact"), eval_set_versions(ws, "scifact")) == before

    ok = runner.invoke(
        app, ["ingest", str(second), "-t", "scifact2", "--eval-set", "scifact2", "-w", str(ws_path)]
    )
    assert ok.exit_code == 0, ok.output
    assert (
        load_eval_set(ws, "scifact").table == "scifact" and load_eval_set(ws, "scifact2").table == "scifact2"
    )


@pytest.mark.slow
def test_compare_on_an_earlier_version(demo_ws: Workspace, preloaded: None) -> None:
    first = load_eval_set(demo_ws, "demo")
    add_judgements(demo_ws, "demo", {"q01": {"d0009": 1}}, author="alice")
    args = ["compare", "--baseline", OLD_MODEL, "--candidate", NEW_MODEL, "-w", demo_ws.uri]

    status = runner.invoke(app, ["status", "-w", demo_ws.uri])
    assert "judged, version 2 (earlier: --eval-set demo@1)" in status.output, status.output

    result = runner.invoke(app, [*args, "--eval-set", "demo@1"])
    assert result.exit_code == 0, result.output
    stored = [load_comparison(demo_ws, i).manifest for i in list_comparisons(demo_ws)["id"]]
    assert [(m.eval_set, m.eval_set_hash) for m in stored] == [("demo", first.content_hash)]

    one_line_exit_2(
        [*args, "--eval-set", "demo@7"],
        r"^error: eval set 'demo' has no version 7; versions: v1, v2 \(latest\)",
    )
    one_line_exit_2([*args, "--eval-set", "demo@x"], r"^error: eval set reference 'demo@x': after '@'")
    assert len(list_comparisons(demo_ws)) == 1


def test_judge_import_onto_an_old_version_is_refused(demo_ws: Workspace, tmp_path: Path) -> None:
    add_judgements(demo_ws, "demo", {"q01": {"d0009": 1}}, author="alice")
    labels = tmp_path / "labels.qrels"
    labels.write_text("q01 0 d0010 1\n")
    before = eval_set_versions(demo_ws, "demo")
    args = ["judge", "import", str(labels), "--author", "bob", "-w", demo_ws.uri, "--eval-set"]
    one_line_exit_2(
        [*args, "demo@1"], r"^error: 'demo@1' is not the latest version of eval set 'demo' \(v2\)"
    )
    assert eval_set_versions(demo_ws, "demo") == before
    result = runner.invoke(app, [*args, "demo@2"])
    assert result.exit_code == 0, result.output
    assert load_eval_set(demo_ws, "demo").version == 3
