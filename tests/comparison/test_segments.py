"""Every metric per segment of the queries: stored with the comparison, equal to pytrec_eval per segment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytrec_eval

from tests.conftest import shared_collection
from workbench.comparison.report import comparison_dict, render_html, render_markdown
from workbench.comparison.run import compare
from workbench.comparison.segments import describe_segments
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import InvalidArgumentError
from workbench.metrics.segments import segment_column
from workbench.models.catalog import CATALOG
from workbench.models.sources.local import SentenceTransformerEmbedder
from workbench.store.comparisons import load_comparison
from workbench.store.evalsets import load_eval_set
from workbench.store.workspace import Workspace


def test_without_metadata_the_segments_are_query_length_and_baseline_score(
    compared_ws: Workspace, comparison_id: str
) -> None:
    cmp = load_comparison(compared_ws, comparison_id)
    assert cmp.manifest.segment_source == "automatic"
    assert set(cmp.segments["key"]) == {"length", "baseline_score"}
    judged = cmp.per_query[cmp.per_query["judged"]]
    for key in ("length", "baseline_score"):
        rows = cmp.segments[(cmp.segments["key"] == key) & (cmp.segments["metric"] == "ndcg@10")]
        assert rows["n"].sum() == len(judged)  # every judged query in exactly one segment per key
        for row in rows.itertuples():
            mine = judged[judged[segment_column(key)] == row.segment]
            assert row.n == len(mine)
            assert row.baseline == pytest.approx(mine["ndcg@10_baseline"].mean())
            assert row.delta == pytest.approx(mine["ndcg@10_delta"].mean())


def test_the_report_json_and_sentence_carry_the_segments(compared_ws: Workspace, comparison_id: str) -> None:
    cmp = load_comparison(compared_ws, comparison_id)
    sentence = describe_segments(cmp)
    assert sentence.startswith("Better overall")
    data = comparison_dict(cmp, per_query=False)
    assert len(data["segments"]) == len(cmp.segments) and data["segment_summary"] == sentence
    assert data["runbook"] == (
        f"workbench runbook {cmp.manifest.candidate_column} --comparison {cmp.id} --out runbook-{cmp.id}.md"
    )
    markdown = render_markdown(cmp)
    assert "#### Segments (automatic)" in markdown and "Migration runbook: `workbench runbook" in markdown
    assert "<h2>Segments (automatic)</h2>" in render_html(cmp)


def test_an_unknown_segment_key_is_refused_before_any_search(demo_ws: Workspace) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"segment key 'language' is not in eval set 'demo'.*automatic"
    ):
        compare(demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", segment_by=["language"])


# --- SciFact with an assigned segment key --------------------------------------------------------

_N_QUERIES = 90
_DISTRACTORS = 300


def _scifact_subset(folder: Path) -> Path:
    """SciFact's first test queries with a ``metadata.bucket`` segment, their documents and distractors."""
    source = shared_collection("scifact")
    lines = (source / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]
    qrels: dict[str, dict[str, int]] = {}
    for line in lines:
        qid, doc, grade = line.split("\t")
        if qid in qrels or len(qrels) < _N_QUERIES:
            qrels.setdefault(qid, {})[doc] = int(grade)
    wanted = {d for judged in qrels.values() for d in judged}
    (folder / "qrels").mkdir(parents=True)
    with (source / "corpus.jsonl").open(encoding="utf-8") as docs, (folder / "corpus.jsonl").open("w") as out:
        for i, line in enumerate(docs):
            if i < _DISTRACTORS or json.loads(line)["_id"] in wanted:
                out.write(line)
    with (
        (source / "queries.jsonl").open(encoding="utf-8") as queries,
        (folder / "queries.jsonl").open("w") as out,
    ):
        for line in queries:
            query = json.loads(line)
            if query["_id"] in qrels:
                bucket = "abc"[int(query["_id"]) % 3]
                out.write(
                    json.dumps({"_id": query["_id"], "text": query["text"], "metadata": {"bucket": bucket}})
                    + "\n"
                )
    rows = [f"{q}\t{d}\t{g}" for q, judged in qrels.items() for d, g in judged.items()]
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n")
    return folder


@pytest.mark.slow
def test_segment_deltas_equal_pytrec_eval_per_segment_on_scifact(
    empty_ws: Workspace, tmp_path: Path, embedders: dict[str, SentenceTransformerEmbedder]
) -> None:
    ingest(empty_ws, _scifact_subset(tmp_path / "scifact"))
    for alias in (OLD_MODEL, NEW_MODEL):
        ref = CATALOG[alias]
        embed(empty_ws, "scifact", ref, embedder=embedders[ref.column])
    cmp = compare(
        empty_ws,
        baseline=OLD_MODEL,
        candidate=NEW_MODEL,
        eval_set="scifact",
        k=[10],
        metrics=["ndcg@10", "mrr@10"],
        embedders=embedders,
        index=False,
    )
    assert cmp.manifest.segment_source == "metadata" and set(cmp.segments["segment"]) == {"a", "b", "c"}
    qrels = load_eval_set(empty_ws, "scifact").qrels
    for segment in ("a", "b", "c"):
        ids = [q for q in qrels if "abc"[int(q) % 3] == segment]
        means = {}
        for side in ("baseline", "candidate"):
            ranked = cmp.rankings[(cmp.rankings["side"] == side) & cmp.rankings["query_id"].isin(ids)]
            run = {
                q: dict(zip(g["doc_id"], g["score"].astype(float), strict=True))
                for q, g in ranked.groupby("query_id")
            }
            scores = pytrec_eval.RelevanceEvaluator(
                {q: qrels[q] for q in ids}, {"ndcg_cut.10", "recip_rank"}
            ).evaluate(run)
            means[side] = {
                "ndcg@10": np.mean([scores[q]["ndcg_cut_10"] if q in scores else 0.0 for q in ids]),
                "mrr@10": np.mean([scores[q]["recip_rank"] if q in scores else 0.0 for q in ids]),
            }
        for metric in ("ndcg@10", "mrr@10"):
            row = cmp.segments[
                (cmp.segments["segment"] == segment) & (cmp.segments["metric"] == metric)
            ].iloc[0]
            assert row["n"] == len(ids)
            assert row["baseline"] == pytest.approx(means["baseline"][metric], abs=1e-12)
            assert row["candidate"] == pytest.approx(means["candidate"][metric], abs=1e-12)
            assert row["delta"] == pytest.approx(
                means["candidate"][metric] - means["baseline"][metric], abs=1e-12
            )
    assert pd.Series(cmp.segments["p_holm"] >= cmp.segments["p_permutation"]).all()
