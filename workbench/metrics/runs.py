"""Ranking frames as pytrec_eval runs, and their per-query metrics."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from workbench.metrics.labelled import Qrels, Run, per_query_metrics

__all__ = ["ranking_metrics", "run_from_rankings"]


def run_from_rankings(rankings: pd.DataFrame) -> Run:
    """A ``query_id, doc_id, score`` ranking frame as a run (query → document → score)."""
    run: Run = {}
    for qid, doc, score in zip(rankings["query_id"], rankings["doc_id"], rankings["score"], strict=True):
        run.setdefault(str(qid), {})[str(doc)] = float(score)
    return run


def ranking_metrics(rankings: pd.DataFrame, qrels: Qrels, metrics: Sequence[str]) -> pd.DataFrame:
    """Per-query labelled metrics (pytrec_eval) of a ranking frame; see ``per_query_metrics``."""
    return per_query_metrics(run_from_rankings(rankings), qrels, metrics)
