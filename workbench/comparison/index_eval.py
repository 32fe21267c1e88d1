"""Index recall as migration evidence: how much of a column's exact ranking its ANN index keeps.

A model that wins by +0.13 nDCG@10 in an exact search can lose part of that through a badly
tuned index, and production serves through the index. So a comparison measures, per column
that has an index: recall@k of the index against the exact top-k on the eval queries, the
labelled metrics through the index, and single-query latency p50/p95 through the index and
exact (on samples of 100 and 20 queries: a flat scan of a million rows takes seconds per
query); the rankings through the index come from one batched search of all queries. Both
latencies are timed on the query serving runs (:func:`workbench.store.index.served_search`):
through the index with its pinned parameters, and LanceDB's flat search for exact, the path a
deployment without the index takes — not the comparison's own streamed scan, which is built
for many queries at once, is slower than the flat search for one, and made the index's speed-up
look 2.2–10× larger than serving sees it (BENCHMARKS.md, issue 26). The flat search holds the
column in memory while it runs (about 1.5 GB at 1M × 384-d), as serving without an index does.

:func:`index_recall` is the small public form (also used by monitoring): one number for one
column and a matrix of query vectors.

Example:
    >>> index_recall(table, "vec__all_minilm_l6_v2__91f7d483", vectors, k=10)  # doctest: +SKIP
    0.98
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.errors import InvalidArgumentError, NotFoundError
from workbench.retrieval.exact import rank_hits, scan_search
from workbench.store.index import IndexInfo, IndexSpec, describe_indexes, search_query, served_search

if TYPE_CHECKING:
    from lancedb.table import Table

__all__ = [
    "IndexEvidence",
    "batch_index_search",
    "exact_search_latency",
    "index_recall",
    "index_search",
    "measure_index",
]

log = logging.getLogger(__name__)

EXACT_LATENCY_SAMPLE = 20
"""Queries timed one by one with serving's exact (flat) search, for the exact latency figures."""
EXACT_LATENCY_BUDGET_S = 15.0
"""Seconds per column after which exact timing stops (at least :data:`EXACT_LATENCY_MIN` queries).

One exact scan of 1M × 384-d takes 2.6–6 s here: twenty of them per column were 250 s of a
290 s comparison, for a figure whose point is "seconds, not milliseconds"."""
EXACT_LATENCY_MIN = 3
"""Exact queries timed whatever the budget."""
REFINE_BUDGET_BYTES = 256 * 2**20
"""Full vectors a batched, refined index search may read at once (see :func:`batch_index_search`)."""
LATENCY_SAMPLE = 100
"""Queries timed one by one through the index (the rankings come from one batched search)."""


@dataclass(frozen=True)
class IndexEvidence:
    """One column's index, measured on the eval queries (latencies in milliseconds)."""

    column: str
    index: str
    k: int
    recall: float
    indexed_rows: int
    unindexed_rows: int
    latency_ms_p50: float
    latency_ms_p95: float
    exact_latency_ms_p50: float
    exact_latency_ms_p95: float
    exact_latency_queries: int
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def index_recall(
    table: Table, column: str, queries: np.ndarray, k: int = 10, *, spec: IndexSpec | None = None
) -> float:
    """Mean recall@``k`` of ``column``'s ANN index against an exact search, over ``queries``.

    Args:
        table: The corpus table at the version to measure.
        column: A vector column with an index.
        queries: ``(n, dim)`` query vectors made by the column's own model.
        k: Depth compared.
        spec: Search parameters (default: those recorded with the index).

    Raises:
        NotFoundError: the column has no vector index at this version.
        InvalidArgumentError: no queries, or ``k`` < 1.
    """
    info = _index_of(table, column)
    ids = [str(i) for i in range(len(queries))]
    exact = scan_search(table, column, queries, ids, k=k)
    approx = batch_index_search(table, column, queries, ids, k=k, spec=spec or info.spec)
    return recall_at(exact, approx, k)


def index_search(
    table: Table,
    column: str,
    vectors: np.ndarray,
    query_ids: Sequence[str],
    *,
    k: int,
    spec: IndexSpec | None,
    exact: bool = False,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Search each query alone (as serving does), through the index or exact; rankings and ms each.

    Returns:
        ``query_id, rank, doc_id, score`` rankings, and the latency of each query in milliseconds.
    """
    if k < 1:
        raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")
    if len(vectors) == 0:
        raise InvalidArgumentError("no query vectors to measure the index with")
    frames, latencies = [], []
    for query_id, vector in zip(query_ids, vectors, strict=True):
        tick = time.perf_counter()
        rows = served_search(table, column, vector, spec, k=k, exact=exact)
        latencies.append((time.perf_counter() - tick) * 1000.0)
        ids = [row["id"] for row in rows]
        scores = 1.0 - np.array([row["_distance"] for row in rows], dtype=np.float64)
        frames.append(
            pd.DataFrame(
                {"query_id": query_id, "rank": np.arange(1, len(ids) + 1), "doc_id": ids, "score": scores}
            )
        )
    return pd.concat(frames, ignore_index=True), np.asarray(latencies)


def batch_index_search(
    table: Table,
    column: str,
    vectors: np.ndarray,
    query_ids: Sequence[str],
    *,
    k: int,
    spec: IndexSpec | None,
) -> pd.DataFrame:
    """The queries through the index in batched LanceDB calls (same rankings as one by one, faster).

    A refined search reads ``k × refine_factor`` full vectors per query (100 × 50 × 1.5 KB =
    7.5 MB at depth 100 on a large table), so the queries go in groups sized to keep that under
    :data:`REFINE_BUDGET_BYTES`: memory does not grow with the number of queries.
    """
    if len(vectors) == 0:
        raise InvalidArgumentError("no query vectors to measure the index with")
    per_query = k * ((spec.refine_factor or 1) if spec else 1) * vectors.shape[1] * 4
    group = max(1, REFINE_BUDGET_BYTES // max(1, per_query))
    frames = [
        _search_group(
            table, column, vectors[start : start + group], query_ids[start : start + group], k, spec
        )
        for start in range(0, len(vectors), group)
    ]
    return pd.concat(frames, ignore_index=True)


def _search_group(
    table: Table, column: str, vectors: np.ndarray, query_ids: Sequence[str], k: int, spec: IndexSpec | None
) -> pd.DataFrame:
    query = table.search(vectors[0] if len(vectors) == 1 else vectors, vector_column_name=column)
    query = query.distance_type("cosine")  # type: ignore[attr-defined]  # search() gives the vector builder
    found = search_query(query, spec, k=k).select(["id", "_distance"]).to_arrow()
    if "query_index" not in found.column_names:  # a single vector gives no query_index
        found = found.append_column("query_index", pa.array(np.zeros(len(found), dtype=np.int64)))
    hits = pa.table(
        {
            "query_index": pa.array(found.column("query_index").to_numpy().astype(np.int64)),
            "id": found.column("id"),
            "_distance": found.column("_distance"),
        }
    )
    return rank_hits(hits, np.asarray(query_ids, dtype=object))


def measure_index(
    table: Table,
    column: str,
    vectors: np.ndarray,
    query_ids: Sequence[str],
    exact_rankings: pd.DataFrame,
    *,
    k: int,
    depth: int,
    exact_sample: int = EXACT_LATENCY_SAMPLE,
) -> tuple[IndexEvidence, pd.DataFrame] | None:
    """The evidence for one column, and its rankings through the index; None without an index.

    Args:
        table: The corpus table at the compared version.
        column: The vector column.
        vectors: The eval queries, encoded by the column's model (one row per query).
        query_ids: The ids of those queries, in the same order.
        exact_rankings: The exact top-``depth`` of the same queries (the comparison's).
        k: Depth of the recall figure.
        depth: Depth of the rankings through the index (for metrics at every cut-off).
        exact_sample: Queries timed exactly, one by one.
    """
    info = describe_indexes(table).get(column)
    if info is None:
        return None
    rankings = batch_index_search(table, column, vectors, query_ids, k=depth, spec=info.spec)
    # Recall as serving meets it: a search for k results refines k × refine_factor candidates,
    # a deeper one more, so the top k of the depth-``depth`` rankings would flatter the index.
    served = (
        rankings if depth == k else batch_index_search(table, column, vectors, query_ids, k=k, spec=info.spec)
    )
    timed = min(LATENCY_SAMPLE, len(vectors))
    _, latency = index_search(table, column, vectors[:timed], query_ids[:timed], k=k, spec=info.spec)
    sample = min(exact_sample, len(vectors))
    exact_latency = exact_search_latency(
        table, column, vectors[:sample], query_ids[:sample], k=k, budget_s=EXACT_LATENCY_BUDGET_S
    )
    evidence = IndexEvidence(
        column=column,
        index=info.describe(),
        k=k,
        recall=recall_at(exact_rankings, served, k),
        indexed_rows=info.indexed_rows,
        unindexed_rows=info.unindexed_rows,
        latency_ms_p50=_pct(latency, 50),
        latency_ms_p95=_pct(latency, 95),
        exact_latency_ms_p50=_pct(exact_latency, 50),
        exact_latency_ms_p95=_pct(exact_latency, 95),
        exact_latency_queries=len(exact_latency),
        metrics={},
    )
    log.info("index of %s: recall@%d %.3f, p50 %.1f ms", column, k, evidence.recall, evidence.latency_ms_p50)
    return evidence, rankings


def exact_search_latency(
    table: Table,
    column: str,
    vectors: np.ndarray,
    query_ids: Sequence[str],
    *,
    k: int,
    budget_s: float | None = None,
) -> np.ndarray:
    """Milliseconds of an exact search of each query alone, as serving runs it without an index.

    Serving's own query (:func:`workbench.store.index.served_search`, LanceDB's flat search with
    the index bypassed), so the index's speed-up is the one a deployment sees. With
    ``budget_s``, timing stops once that many seconds are spent and :data:`EXACT_LATENCY_MIN`
    queries are timed: the result may be shorter than ``vectors``.
    """
    latencies: list[float] = []
    start = time.perf_counter()
    for _query_id, vector in zip(query_ids, vectors, strict=True):
        spent = time.perf_counter() - start
        if budget_s is not None and len(latencies) >= EXACT_LATENCY_MIN and spent >= budget_s:
            log.info("exact latency of %s: %d queries in %.1f s (budget)", column, len(latencies), spent)
            break
        tick = time.perf_counter()
        served_search(table, column, vector, None, k=k, exact=True)
        latencies.append((time.perf_counter() - tick) * 1000.0)
    return np.asarray(latencies)


def recall_at(exact: pd.DataFrame, approx: pd.DataFrame, k: int) -> float:
    """Mean over queries of |approx top-k ∩ exact top-k| / |exact top-k|."""
    truth = exact[exact["rank"] <= k].groupby("query_id")["doc_id"].agg(set)
    found = approx[approx["rank"] <= k].groupby("query_id")["doc_id"].agg(set)
    shares = [len(docs & found.get(q, set())) / len(docs) for q, docs in truth.items() if docs]
    return float(np.mean(shares)) if shares else float("nan")


def describe_evidence(index: dict[str, dict[str, Any]], headline: str | None) -> str | None:
    """``ndcg@10 +0.120; index recall@10 0.97 (candidate), 0.98 (baseline)``: through the indexes."""
    if not index:
        return None
    ordered = sorted(index.items(), key=lambda item: item[0] != "candidate")
    recalls = ", ".join(f"{e['recall']:.2f} ({side})" for side, e in ordered)
    k = next(iter(index.values()))["k"]
    line = f"index recall@{k} {recalls}"
    sides = index.get("baseline"), index.get("candidate")
    if headline and all(s is not None and headline in s["metrics"] for s in sides):
        base, cand = sides[0]["metrics"][headline], sides[1]["metrics"][headline]  # type: ignore[index]
        line = f"{headline} {cand - base:+.3f}; " + line
    return line


def _index_of(table: Table, column: str) -> IndexInfo:
    info = describe_indexes(table).get(column)
    if info is None:
        raise NotFoundError(
            f"{column} has no vector index at v{table.version} of {table.name!r}; build one with "
            f"`workbench index {column}`"
        )
    return info


def _pct(values: np.ndarray, q: float) -> float:
    return round(float(np.percentile(values, q)), 3) if len(values) else float("nan")
