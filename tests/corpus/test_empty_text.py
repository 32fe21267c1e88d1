"""Documents with empty text: an explicit policy (error, skip, title), counted, same in the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import shared_collection
from tests.corpus.test_readers import QUERIES, write_beir
from workbench.cli.app import app
from workbench.corpus.readers import read_collection
from workbench.embedding.ingest import ingest
from workbench.errors import DataError, InvalidArgumentError
from workbench.store.evalsets import load_eval_set
from workbench.store.workspace import Workspace, open_workspace

DOCS = [
    {"_id": "a", "title": "Alpha", "text": "alpha text"},
    {"_id": "b", "title": "Beta title", "text": ""},
    {"_id": "c", "title": "", "text": "gamma text"},
]
QRELS = "q1\ta\t2\nq1\tb\t1\nq2\tb\t1\n"


def beir(tmp_path: Path, docs: list[dict] | None = None) -> Path:
    return write_beir(tmp_path / "mini", docs or DOCS, QUERIES, QRELS)


def test_default_refuses_with_a_hint_that_names_the_policy(empty_ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"corpus.jsonl:2: document 'b' has empty 'text'.*--on-empty skip"):
        ingest(empty_ws, beir(tmp_path))
    assert empty_ws.table_names(include_internal=True) == []


def test_skip_leaves_out_documents_and_their_judgements_with_counts(
    empty_ws: Workspace, tmp_path: Path
) -> None:
    result = ingest(empty_ws, beir(tmp_path), on_empty="skip")
    assert (result.rows_total, result.rows_skipped, result.qrels_dropped) == (2, 1, 2)
    assert "skipped 1 document(s) with empty text" in result.message
    assert "dropped 2 judgement(s)" in result.message
    assert sorted(empty_ws.table("mini").to_arrow().column("id").to_pylist()) == ["a", "c"]
    # q2 judged only b: it keeps its text but has no judgements left.
    assert load_eval_set(empty_ws, "mini").qrels == {"q1": {"a": 2}}


def test_title_policy_embeds_the_title_and_refuses_when_both_are_empty(
    empty_ws: Workspace, tmp_path: Path
) -> None:
    result = ingest(empty_ws, beir(tmp_path), on_empty="title")
    assert (result.rows_total, result.rows_titled, result.qrels_dropped) == (3, 1, 0)
    rows = {r["id"]: r["text"] for r in empty_ws.table("mini").to_arrow().to_pylist()}
    assert rows["b"] == "Beta title"
    bare = [*DOCS, {"_id": "d", "title": "", "text": " "}]
    with pytest.raises(DataError, match=r"document 'd' has empty 'text' and an empty title"):
        read_collection(beir(tmp_path / "x", bare), on_empty="title")


def test_unknown_policy_lists_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"unknown empty-text policy 'drop'; use one of: error, skip, title"
    ):
        read_collection(beir(tmp_path), on_empty="drop")  # type: ignore[arg-type]


def test_cli_on_empty_skip_reports_counts_and_bad_policy_exits_2(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = tmp_path / "ws"
    refused = runner.invoke(app, ["ingest", str(beir(tmp_path)), "-w", str(ws)])
    assert refused.exit_code == 2 and "--on-empty skip" in refused.output
    bad = runner.invoke(app, ["ingest", str(beir(tmp_path)), "-w", str(ws), "--on-empty", "drop"])
    assert bad.exit_code == 2 and "use one of: error, skip, title" in bad.output
    assert open_workspace(ws).table_names(include_internal=True) == []
    done = runner.invoke(app, ["ingest", str(beir(tmp_path)), "-w", str(ws), "--on-empty", "skip", "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)  # the reading progress bar goes to stderr
    assert (data["rows_skipped"], data["qrels_dropped"]) == (1, 2)


def test_cranfield_ingests_with_skip(empty_ws: Workspace) -> None:
    source = shared_collection("cranfield")
    with pytest.raises(DataError, match=r"corpus.jsonl:471: document '471' has empty 'text'"):
        ingest(empty_ws, source)
    result = ingest(empty_ws, source, on_empty="skip")
    assert (result.rows_total, result.rows_skipped) == (1398, 2)
    assert result.n_queries == 225 and result.n_judged > 0
