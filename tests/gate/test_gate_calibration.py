"""Calibration of the gate on real data (issue #17): Cranfield, 225 graded queries, the two
catalog models. Embedded once per session; then random 30-query subsets cost no re-embedding
(the gate's statistics run on the per-query metric values of the full comparison).

Bounds asserted with a fixed seed: false GO ≤ 5 %, false NO-GO ≤ 5 %, and ≥ 80 % of the
INCONCLUSIVE subsets decided after adding the queries the verdict asked for. The table is in
BENCHMARKS.md (``bench/bench_gate_calibration.py`` prints it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import shared_collection
from workbench.comparison.run import compare
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.gate.calibration import calibrate_gate, summarise_calibration
from workbench.gate.config import GateConfig
from workbench.models.catalog import CATALOG
from workbench.models.embedder import Embedder
from workbench.store.workspace import open_workspace

pytestmark = pytest.mark.slow  # embeds Cranfield with both models once per session

SUBSETS = 200
SEED = 17


def readable_copy(source: Path, target: Path) -> Path:
    """The collection with its two empty Cranfield documents (471, 995; 995 is judged) given a
    placeholder text, since ingest refuses empty documents. Written to a tmp folder only."""
    target.mkdir(parents=True)
    (target / "qrels").mkdir()
    with (source / "corpus.jsonl").open(encoding="utf-8") as src, (target / "corpus.jsonl").open("w") as dst:
        for line in src:
            doc = json.loads(line)
            doc["text"] = doc["text"] or "(empty document)"
            dst.write(json.dumps(doc) + "\n")
    (target / "queries.jsonl").write_bytes((source / "queries.jsonl").read_bytes())
    (target / "qrels" / "test.tsv").write_bytes((source / "qrels" / "test.tsv").read_bytes())
    return target


@pytest.fixture(scope="session")
def cranfield_per_query(
    tmp_path_factory: pytest.TempPathFactory, embedders: dict[str, Embedder]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(minilm-l3, minilm-l6) per-query nDCG@10 and recall@100 on all 225 Cranfield queries."""
    source = shared_collection("cranfield")
    root = tmp_path_factory.mktemp("cranfield")
    ws = open_workspace(root / "ws")
    ingest(ws, readable_copy(source, root / "cranfield"), table="cranfield")
    for alias in (OLD_MODEL, NEW_MODEL):
        ref = CATALOG[alias]
        embed(ws, "cranfield", ref, embedder=embedders[ref.column])
    cmp = compare(
        ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="cranfield", embedders=embedders, store=False
    )
    judged = cmp.per_query[cmp.per_query["judged"]].set_index("query_id")
    metrics = ["ndcg@10", "recall@100"]
    sides = [
        judged[[f"{m}_{side}" for m in metrics]].set_axis(metrics, axis=1)
        for side in ("baseline", "candidate")
    ]
    return sides[0], sides[1]


@pytest.fixture(scope="session")
def calibration(cranfield_per_query: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    l3, l6 = cranfield_per_query
    assert len(l3) == 225
    # The truth on the full set: minilm-l6 is better by far more than the 0.01 margin.
    assert l6["ndcg@10"].mean() - l3["ndcg@10"].mean() > 0.03
    return calibrate_gate(l3, l6, GateConfig(), size=30, subsets=SUBSETS, seed=SEED)


def test_gate_rarely_promotes_the_worse_model(calibration: pd.DataFrame) -> None:
    summary = summarise_calibration(calibration)
    worse = summary.loc["worse over better"]
    assert worse["subsets"] == SUBSETS
    assert worse["wrong"] <= 0.05, summary.to_string()  # false GO


def test_gate_rarely_refuses_the_better_model_outright(calibration: pd.DataFrame) -> None:
    summary = summarise_calibration(calibration)
    assert summary.loc["better over worse", "wrong"] <= 0.05, summary.to_string()  # false NO-GO


def test_inconclusive_is_decided_by_the_queries_it_asked_for(calibration: pd.DataFrame) -> None:
    inconclusive = calibration[calibration["verdict"] == "INCONCLUSIVE"]
    assert len(inconclusive) >= 10, "too few INCONCLUSIVE subsets to say anything"
    decided = inconclusive["follow_up"].isin(["GO", "NO-GO"]).mean()
    assert decided >= 0.8, inconclusive["follow_up"].value_counts().to_string()
    # Adding queries never turns a truly better candidate into NO-GO, nor a worse one into GO.
    follow_wrong = (
        (inconclusive["direction"] == "better over worse") & (inconclusive["follow_up"] == "NO-GO")
    ) | ((inconclusive["direction"] == "worse over better") & (inconclusive["follow_up"] == "GO"))
    assert follow_wrong.mean() <= 0.05
