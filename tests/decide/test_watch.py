"""Scheduled re-evaluation of the candidates on SciFact: minilm-l6 beats production minilm-l3 (alarm,
with the migration estimate), and not the other way round (stay put); in the CLI and in monitoring.

The corpus is a slice of SciFact (every document judged for the test queries plus distractors),
embedded once per module by the two MiniLM models.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import shared_collection
from tests.corpus.test_readers import write_beir
from workbench.cli.app import app
from workbench.decide.watch import watch_candidates
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import InvalidArgumentError, LifecycleError
from workbench.models.catalog import CATALOG
from workbench.models.embedder import Embedder
from workbench.monitoring.config import MonitorConfig
from workbench.monitoring.monitor import monitor
from workbench.production.promote import promote
from workbench.store.candidate_watch import list_watches
from workbench.store.workspace import Workspace, open_workspace

pytestmark = pytest.mark.slow
runner = CliRunner()
L3, L6 = "minilm-l3", "minilm-l6"
DISTRACTORS = 400


@pytest.fixture(scope="module")
def template(embedders: dict[str, Embedder], tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = shared_collection("scifact")
    root = tmp_path_factory.mktemp("watch")
    qrels = (source / "qrels" / "test.tsv").read_text().splitlines()[1:]
    judged = {line.split("\t")[1] for line in qrels}
    asked = {line.split("\t")[0] for line in qrels}
    docs = [json.loads(line) for line in (source / "corpus.jsonl").read_text().splitlines()]
    keep = [d for d in docs if d["_id"] in judged] + [d for d in docs if d["_id"] not in judged][:DISTRACTORS]
    queries = [json.loads(line) for line in (source / "queries.jsonl").read_text().splitlines()]
    folder = write_beir(
        root / "scifact",
        keep,
        [q for q in queries if q["_id"] in asked],
        "query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n",
    )
    ws = open_workspace(root / "ws")
    ingest(ws, folder, table="scifact", eval_set="scifact")
    for alias in (L3, L6):
        embed(ws, "scifact", CATALOG[alias], embedder=embedders[CATALOG[alias].column])
    return root / "ws"


def _copy(template: Path, tmp_path: Path, production: str) -> Workspace:
    shutil.copytree(template, tmp_path / "ws")
    ws = open_workspace(tmp_path / "ws")
    promote(ws, "scifact", production, initial=True)
    return ws


def test_a_better_candidate_raises_the_alarm_with_its_migration_cost(
    template: Path, tmp_path: Path, embedders: dict[str, Embedder]
) -> None:
    ws = _copy(template, tmp_path, L3)
    watch = watch_candidates(ws, eval_set="scifact", candidates=[L6], embedders=embedders, margin=0.01)
    (row,) = watch.rows
    assert watch.verdict == "alarm" and watch.production == L3 and row["label"] == L6
    assert row["beats"] and row["ci_low"] > 0 and row["delta"] > 0.01
    assert row["plan_seconds"] > 0 and "rows" in row["plan"]
    assert f"{L6} beats production {L3}: ndcg@10 +" in watch.summary
    assert [w.seq for w in list_watches(ws)] == [1] and list_watches(ws)[0].rows == watch.rows

    result = runner.invoke(app, ["watch-candidates", "--candidates", L6, "--json", "-w", ws.uri])
    assert result.exit_code == 1, result.output  # an alarm, as monitor's
    assert json.loads(result.stdout)["verdict"] == "alarm"
    assert [w.seq for w in list_watches(ws)] == [1, 2]


def test_a_worse_candidate_says_stay_put(
    template: Path, tmp_path: Path, embedders: dict[str, Embedder]
) -> None:
    ws = _copy(template, tmp_path, L6)
    watch = watch_candidates(ws, eval_set="scifact", embedders=embedders)  # every other column
    (row,) = watch.rows
    assert watch.verdict == "stay put" and row["label"] == L3 and not row["beats"] and row["delta"] < 0
    assert "plan" not in row and watch.summary.startswith(f"stay put: no candidate beats production {L6}")
    result = runner.invoke(app, ["watch-candidates", "--no-store", "-w", ws.uri])
    assert result.exit_code == 0 and "stay put" in result.output, result.output
    assert len(list_watches(ws)) == 1


def test_the_monitor_runs_the_watch_on_its_own_schedule(
    template: Path, tmp_path: Path, embedders: dict[str, Embedder]
) -> None:
    from datetime import UTC, datetime, timedelta

    ws = _copy(template, tmp_path, L3)
    config = MonitorConfig(watch_every="90d", watch_candidates=(L6,), retire_after="")
    start = datetime.now(UTC)
    embedder = embedders[CATALOG[L3].column]
    first = monitor(ws, "scifact", config=config, embedder=embedder, now=start)
    assert first.signal("candidates").status == "alarm" and first.verdict == "alarm"
    assert f"{L6} beats production {L3}" in first.signal("candidates").reason
    later = monitor(ws, "scifact", config=config, embedder=embedder, now=start + timedelta(days=30))
    assert later.signal("candidates") is None  # not due again for 90 days
    due = monitor(ws, "scifact", config=config, embedder=embedder, now=start + timedelta(days=91))
    assert due.signal("candidates").status == "alarm" and len(list_watches(ws)) == 2


def test_bad_watches_are_refused_with_nothing_written(template: Path, tmp_path: Path) -> None:
    shutil.copytree(template, tmp_path / "ws")
    ws = open_workspace(tmp_path / "ws")
    with pytest.raises(LifecycleError, match="nothing in production"):
        watch_candidates(ws, eval_set="scifact")
    promote(ws, "scifact", L3, initial=True)
    with pytest.raises(InvalidArgumentError, match="no candidate to watch besides production"):
        watch_candidates(ws, eval_set="scifact", candidates=[L3])
    with pytest.raises(InvalidArgumentError, match="margin must be >= 0"):
        watch_candidates(ws, eval_set="scifact", margin=-1)
    result = runner.invoke(app, ["watch-candidates", "--metric", "ndcg@x", "-w", ws.uri])
    assert result.exit_code == 2 and result.output.startswith("error:"), result.output
    assert list_watches(ws) == []
