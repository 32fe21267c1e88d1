"""How much of a full re-embed an adapter keeps, measured on an eval set.

Three settings, each searched exactly over the same documents:

- ``old→old``: old-model queries against the old column (what production serves today);
- ``adapted→old``: new-model queries mapped by the adapter, against the old column (the bridge);
- ``new→new``: new-model queries against the new column (the full re-embed).

``recovery`` is the share of the full re-embed's score the bridge keeps (adapted / new);
``gap_closed`` is the share of the old→new improvement it delivers ((adapted − old) / (new −
old)); ``agreement@k`` is the label-free share of the re-embed's top k the bridge returns.
Published claims of 95–99 % recovery are disputed by independent re-runs (0.24–0.50 on other
corpora): measure it on your queries before relying on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.comparison.scoring import check_metrics, depth_of, require_judged, score, top_k_overlap
from workbench.decide.adapters.artifact import Adapter, load_adapter
from workbench.decide.adapters.binding import bound_columns
from workbench.metrics.intervals import mean_intervals
from workbench.models.embedder import Embedder
from workbench.retrieval.encode import embedder_for, encode_queries
from workbench.retrieval.exact import exact_search, read_vectors
from workbench.store.evalsets import load_eval_set
from workbench.store.workspace import Workspace

__all__ = ["SETTINGS", "AdapterEvaluation", "evaluate_adapter"]

SETTINGS = ("old→old", "adapted→old", "new→new")


@dataclass(frozen=True)
class AdapterEvaluation:
    """An adapter on an eval set: each setting's metrics, recovery, gap closed and agreement.

    Attributes:
        rows: One row per setting (:data:`SETTINGS`): per metric ``<m>``, ``<m>_ci_low``,
            ``<m>_ci_high``.
        recovery: Per metric, adapted / new (the share of the full re-embed kept).
        gap_closed: Per metric, (adapted − old) / (new − old); NaN when new = old.
        agreement: Mean share of the re-embed's top ``k`` the bridge also returns.
    """

    adapter_id: str
    kind: str
    eval_set: str
    metrics: list[str]
    rows: pd.DataFrame
    recovery: dict[str, float]
    gap_closed: dict[str, float]
    agreement: float
    agreement_k: int
    n_judged: int
    warnings: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        head = self.metrics[0]
        values = self.rows[head]
        return (
            f"{self.kind} adapter on {self.eval_set}: {head} old→old {values['old→old']:.3f}, "
            f"adapted→old {values['adapted→old']:.3f}, new→new {values['new→new']:.3f}; recovery "
            f"{self.recovery[head]:.0%} of the re-embed, gap closed {self.gap_closed[head]:.0%}, "
            f"top-{self.agreement_k} agreement with the re-embed {self.agreement:.0%}."
        )


def evaluate_adapter(
    ws: Workspace,
    adapter: str | Adapter,
    *,
    eval_set: str,
    metrics: Sequence[str] = ("ndcg@10", "recall@100"),
    agreement_k: int = 10,
    embedders: Mapping[str, Embedder] | None = None,
) -> AdapterEvaluation:
    """Measure ``adapter`` (an id or a fitted one) on ``eval_set``: old→old, adapted→old, new→new.

    Raises:
        NotFoundError: the adapter, eval set or a column does not exist.
        MixedIndexError: a column's pin is no longer the one the adapter was fitted for.
        InvalidArgumentError: too few judged queries, a bad metric.
    """
    fitted = adapter if isinstance(adapter, Adapter) else load_adapter(ws, adapter)
    names = check_metrics(metrics)
    evals = load_eval_set(ws, eval_set)
    require_judged(evals)
    handle = ws.table(fitted.table)
    handle.checkout(handle.version)
    new, old = (ws.located_column(c) for c in bound_columns(handle, fitted))
    depth = max(depth_of(names), agreement_k)
    query_ids = list(evals.queries)
    texts = [evals.queries[q] for q in query_ids]
    new_queries = encode_queries(embedder_for(new, embedders), new, texts)
    old_queries = encode_queries(embedder_for(old, embedders), old, texts)
    old_ids, old_docs = read_vectors(handle, old.name)
    new_ids, new_docs = read_vectors(handle, new.name)
    rankings = {
        "old→old": exact_search(old_ids, old_docs, old_queries, query_ids, k=depth),
        "adapted→old": exact_search(old_ids, old_docs, fitted.map.apply(new_queries), query_ids, k=depth),
        "new→new": exact_search(new_ids, new_docs, new_queries, query_ids, k=depth),
    }
    rows = _rows({s: score(r, evals, names) for s, r in rankings.items()}, names)
    recovery = {m: _ratio(rows.loc["adapted→old", m], rows.loc["new→new", m]) for m in names}
    gap = {
        m: _ratio(
            rows.loc["adapted→old", m] - rows.loc["old→old", m],
            rows.loc["new→new", m] - rows.loc["old→old", m],
        )
        for m in names
    }
    agreement = top_k_overlap(rankings["adapted→old"], rankings["new→new"], k=agreement_k)
    return AdapterEvaluation(
        fitted.id,
        fitted.kind,
        evals.name,
        names,
        rows,
        recovery,
        gap,
        agreement,
        agreement_k,
        len(evals.judged_queries),
    )


def _rows(frames: dict[str, pd.DataFrame], metrics: list[str]) -> pd.DataFrame:
    records = {}
    for setting, frame in frames.items():
        intervals = mean_intervals(frame[metrics])
        record = {}
        for metric in metrics:
            record[metric] = intervals.loc[metric, "mean"]
            record[f"{metric}_ci_low"] = intervals.loc[metric, "ci_low"]
            record[f"{metric}_ci_high"] = intervals.loc[metric, "ci_high"]
        records[setting] = record
    return pd.DataFrame.from_dict(records, orient="index")


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if abs(denominator) > 1e-12 else float(np.nan)
