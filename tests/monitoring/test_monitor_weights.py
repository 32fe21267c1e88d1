"""Weights changed behind the same model name: the next monitoring pass raises the alarm."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench.demo import demo_data_dir
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.models.catalog import L6_PACKAGE
from workbench.models.sources.local import pin_directory
from workbench.models.sources.package import package_model_dir
from workbench.monitoring.monitor import monitor
from workbench.production.promote import promote
from workbench.store.evalsets import load_eval_set
from workbench.store.workspace import Workspace, open_workspace

pytestmark = pytest.mark.slow


def _small_beir(target: Path, *, n_queries: int = 12, n_docs: int = 60) -> Path:
    """A BEIR folder from the demo data: a dozen judged queries, their documents and others."""
    source = demo_data_dir()
    ws = open_workspace(target.parent / "reader")
    ingest(ws, source, table="demo", eval_set="demo")
    eval_set = load_eval_set(ws, "demo")
    queries = eval_set.judged_queries[:n_queries]
    judged = {d for q in queries for d in eval_set.qrels[q]}
    lines = (source / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [line for line in lines if json.loads(line)["_id"] in judged]
    docs += [line for line in lines if json.loads(line)["_id"] not in judged][: n_docs - len(docs)]
    (target / "qrels").mkdir(parents=True)
    (target / "corpus.jsonl").write_text("\n".join(docs) + "\n", encoding="utf-8")
    query_lines = [json.dumps({"_id": q, "text": eval_set.queries[q]}) for q in queries]
    (target / "queries.jsonl").write_text("\n".join(query_lines) + "\n", encoding="utf-8")
    qrels = ["query-id\tcorpus-id\tscore"] + [
        f"{q}\t{d}\t{g}" for q in queries for d, g in eval_set.qrels[q].items()
    ]
    (target / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return target


def _perturb_weights(model_dir: Path) -> None:
    """Someone re-saves slightly different weights under the same name (a silent fine-tune)."""
    from safetensors.torch import load_file, save_file

    path = next(model_dir.rglob("*.safetensors"))
    tensors = load_file(str(path))
    name = next(n for n in tensors if n.endswith("query.weight"))
    tensors[name] = tensors[name] * 1.5
    save_file(tensors, str(path), metadata={"format": "pt"})


def test_weights_changed_under_the_same_name_raise_an_alarm(tmp_path: Path) -> None:
    model_dir = tmp_path / "models" / "team-minilm"
    shutil.copytree(package_model_dir(L6_PACKAGE), model_dir)
    ref = pin_directory(model_dir, name="team/minilm", revision="2026-11-01")
    ws: Workspace = open_workspace(tmp_path / "ws")
    ws.add_model("team", ref)
    ingest(ws, _small_beir(tmp_path / "beir"), table="docs", eval_set="docs")
    embed(ws, "docs", ref)
    promote(ws, "docs", ref.column, initial=True, reason="first production")
    moment = datetime.now(UTC) + timedelta(minutes=1)
    first = monitor(ws, "docs", now=moment + timedelta(hours=1))
    assert first.verdict == "ok", first.alarms

    _perturb_weights(model_dir)
    run = monitor(ws, "docs", now=moment + timedelta(hours=2))
    assert run.verdict == "alarm"
    statuses = {s.name: s.status for s in run.signals}
    assert statuses["integrity"] == "alarm" and statuses["eval"] == "error"
    integrity = run.signal("integrity")
    assert integrity.values["pin_verifies"] == 0.0
    assert f"the pin of {ref.column} no longer verifies" in integrity.reason
    assert "The weights changed under the same name" in integrity.reason
    assert "could not serve the eval queries" in run.signal("eval").reason
