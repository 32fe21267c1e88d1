"""Quality against coverage: simulated by masking, exact at both ends."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.comparison.progressive import CURVE_METRICS, coverage_figure, simulate_curve
from workbench.errors import InvalidArgumentError
from workbench.metrics.labelled import per_query_metrics

N_DOCS, N_QUERIES, DIM = 300, 40, 16


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = [f"d{i:03d}" for i in range(N_DOCS)]
    old_docs, new_docs = rng.normal(size=(N_DOCS, DIM)), rng.normal(size=(N_DOCS, DIM))
    relevant = rng.integers(0, N_DOCS, size=(N_QUERIES, 3))
    # queries near their relevant documents: closer in the new space than in the old one
    new_queries = new_docs[relevant].mean(axis=1) + 0.3 * rng.normal(size=(N_QUERIES, DIM))
    old_queries = old_docs[relevant].mean(axis=1) + 1.0 * rng.normal(size=(N_QUERIES, DIM))
    qids = [f"q{i}" for i in range(N_QUERIES)]
    qrels = {q: {ids[d]: 1 for d in rel} for q, rel in zip(qids, relevant, strict=True)}
    return ids, old_docs, new_docs, old_queries, new_queries, qids, qrels


def _single(docs, queries, ids, qids, qrels):
    sims = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        docs / np.linalg.norm(docs, axis=1, keepdims=True)
    ).T.astype(np.float32)
    run = {}
    for q, row in zip(qids, sims.astype(np.float32), strict=True):
        order = np.lexsort((np.arange(len(ids)), -row))[:100]
        run[q] = {ids[i]: float(100 - r) for r, i in enumerate(order)}
    return per_query_metrics(run, qrels, list(CURVE_METRICS)).mean()


def test_the_curve_equals_the_old_column_at_0_and_the_new_column_at_100_percent() -> None:
    ids, old_docs, new_docs, old_q, new_q, qids, qrels = _data()
    frame = simulate_curve(
        ids,
        np.arange(N_DOCS),
        old_docs=old_docs,
        new_docs=new_docs,
        old_queries=old_q,
        new_queries=new_q,
        query_ids=qids,
        qrels=qrels,
        coverages=[0, 50, 100],
    )
    assert len(frame) == 3 * 2 * 3 * len(CURVE_METRICS)  # priorities × merges × coverages × metrics
    old, new = _single(old_docs, old_q, ids, qids, qrels), _single(new_docs, new_q, ids, qids, qrels)
    for metric in CURVE_METRICS:
        part = frame[frame["metric"] == metric]
        assert (part[part["coverage"] == 0]["mean"] == old[metric]).all()
        assert (part[part["coverage"] == 0]["delta"] == 0).all()
        assert (part[part["coverage"] == 100]["mean"] == new[metric]).all()
        assert (part[part["coverage"] == 100]["new_share"] == 1.0).all()
    assert new["ndcg@10"] > old["ndcg@10"]
    half = frame[(frame["coverage"] == 50) & (frame["metric"] == "ndcg@10")]
    assert ((half["new_share"] > 0) & (half["new_share"] < 1)).all()
    figure = json.loads(coverage_figure(frame).to_json())
    assert len(figure["data"]) == 6 and figure["layout"]["xaxis"]["title"]["text"].startswith("coverage")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"coverages": [0, 120]}, r"coverages are percentages in \[0, 100\]"),
        ({"priorities": ["oldest"]}, "unknown priority"),
        ({"merges": ["mean"]}, "unknown merge"),
    ],
)
def test_bad_curve_options_are_refused(options, match) -> None:
    ids, old_docs, new_docs, old_q, new_q, qids, qrels = _data()
    with pytest.raises(InvalidArgumentError, match=match):
        simulate_curve(
            ids,
            np.arange(N_DOCS),
            old_docs=old_docs,
            new_docs=new_docs,
            old_queries=old_q,
            new_queries=new_q,
            query_ids=qids,
            qrels=qrels,
            **options,
        )
