"""What one monitoring pass measures on production, signal by signal, without scanning every vector.

- :func:`integrity_signal`: missing or stale rows of the production column (counted from the
  scalar ``src__``/``content_hash`` columns inside Lance, never from the vectors), at the
  production version and at the latest version; whether the column's pin still verifies
  (the model files on this machine hash to the pinned fingerprint) and names its column.
- :func:`serve_eval_queries`: the eval queries encoded by the column's own model and searched
  the way serving searches (through the vector index when there is one), at the production
  version; :func:`eval_signal` turns the rankings into per-query metrics (pytrec_eval).
- :func:`index_recall_signal`: for an indexed column, recall@k of the index against exact
  search on the eval queries.
- :func:`score_features`: top-1 cosine, margin top-1 − top-10 and mean top-10 per query, from
  the query log's stored scores or from the eval queries.
- :func:`canary_signal`: the behavioural (canary) fingerprint, re-checked against the pin.

Each returns a :class:`~workbench.store.monitor_runs.Signal`; judging against the baseline
window is :mod:`workbench.monitoring.drift`'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from workbench.contract import parse_column
from workbench.errors import WorkbenchError
from workbench.metrics.labelled import per_query_metrics
from workbench.models.canary import verify_canaries
from workbench.models.sources.local import resolve_model_dir, verify_model_dir
from workbench.production.promote import data_unchanged_since
from workbench.retrieval.encode import embedder_for, encode_queries
from workbench.store.canaries import load_canaries
from workbench.store.monitor_runs import Signal, SignalStatus
from workbench.store.status import column_problems

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.models.embedder import Embedder
    from workbench.store.evalsets import EvalSet
    from workbench.store.workspace import VectorColumn, Workspace

__all__ = [
    "FEATURES",
    "ServedRankings",
    "canary_signal",
    "eval_signal",
    "index_recall_signal",
    "integrity_signal",
    "score_features",
    "serve_eval_queries",
]


log = logging.getLogger(__name__)

FEATURES = ("top1", "margin", "mean_topk")
"""Per-query score features: top-1 cosine, top-1 − top-10, mean of the top 10."""
_DEPTH = 10


@dataclass(frozen=True)
class ServedRankings:
    """The top-k of each eval query as serving returns it: doc ids and cosine scores."""

    query_ids: list[str]
    doc_ids: list[list[str]]
    scores: list[list[float]]


def integrity_signal(
    production: Table, latest: Table, column: VectorColumn, *, max_stale_rows: int
) -> Signal:
    """Missing/stale rows (production and latest version), pin verification, column naming."""
    problems: list[str] = []
    missing, stale = column_problems(production, column, read_vectors=False)
    values = {"missing_production": float(missing), "stale_production": float(stale)}
    lag = latest.version - production.version
    if data_unchanged_since(latest.to_lance(), production.version):
        latest_missing, latest_stale = missing, stale
    elif column.name in latest.schema.names:
        latest_missing, latest_stale = column_problems(latest, column, read_vectors=False)
    else:
        latest_missing, latest_stale = 0, 0
        problems.append(f"{column.name} is gone from the latest version v{latest.version}")
    values.update(
        missing_latest=float(latest_missing), stale_latest=float(latest_stale), lag_versions=float(lag)
    )
    worst = max(missing, stale, latest_missing, latest_stale)
    if worst > max_stale_rows:
        problems.append(
            f"{column.name} has {missing} missing / {stale} stale rows at production v{production.version} "
            f"and {latest_missing} missing / {latest_stale} stale at the latest v{latest.version} (allowed: "
            f"{max_stale_rows}): documents changed without being re-embedded; re-ingest them (dual-write) "
            "and `workbench refresh`"
        )
    pin_problem = _pin_problem(column)
    values["pin_verifies"] = 0.0 if pin_problem else 1.0
    if pin_problem:
        problems.append(pin_problem)
    if problems:
        return Signal("integrity", "alarm", "; ".join(problems), values)
    note = f"; production lags the latest version by {lag} versions" if lag else ""
    return Signal(
        "integrity",
        "ok",
        f"{column.name}: no missing or stale rows, pin verifies{note}",
        values,
    )


def serve_eval_queries(
    production: Table, column: VectorColumn, embedder: Embedder, queries: dict[str, str], *, k: int
) -> ServedRankings:
    """Encode ``queries`` with the column's model and search them as serving does (index if any)."""
    ids = list(queries)
    vectors = encode_queries(embedder, column, [queries[q] for q in ids])
    doc_ids, scores = _search(production, column.name, vectors, k=k, exact=False)
    return ServedRankings(ids, doc_ids, scores)


def eval_signal(rankings: ServedRankings, eval_set: EvalSet, metrics: Sequence[str]) -> Signal:
    """Per-query metrics of the served rankings on the labelled queries (judged later)."""
    run = {
        q: {d: float(s) for d, s in zip(docs, sc, strict=True)}
        for q, docs, sc in zip(rankings.query_ids, rankings.doc_ids, rankings.scores, strict=True)
    }
    judged = {q: j for q, j in eval_set.qrels.items() if q in eval_set.queries}
    if not any(any(g > 0 for g in j.values()) for j in judged.values()):
        return Signal("eval", "skipped", f"not available: eval set {eval_set.name!r} has no judged queries")
    frame = per_query_metrics(run, judged, list(metrics))
    per_query = {m: {str(q): float(v) for q, v in frame[m].items()} for m in frame.columns}
    values = {m: float(frame[m].mean()) for m in frame.columns}
    summary = ", ".join(f"{m} {v:.3f}" for m, v in values.items())
    detail = {"eval_set": eval_set.name, "n_queries": len(frame), "per_query": per_query}
    return Signal(
        "eval", "baseline", f"{summary} on {len(frame)} judged queries of {eval_set.name!r}", values, detail
    )


def index_recall_signal(
    production: Table,
    column: VectorColumn,
    embedder: Embedder,
    queries: dict[str, str],
    *,
    k: int,
    minimum: float,
    known_exact: dict[str, list[str]] | None = None,
) -> Signal:
    """Recall@k of the column's vector index against exact search, on the eval queries.

    The exact neighbours depend only on the data and the model, so ``known_exact`` (from the
    previous pass at the same production version) is reused: only the first pass of a version
    scans the column.
    """
    indexed = [i for i in production.list_indices() if column.name in list(i.columns)]
    if not indexed:
        reason = f"not available: {column.name} has no vector index (search is exact)"
        return Signal("index_recall", "skipped", reason)
    ids = list(queries)
    vectors = encode_queries(embedder, column, [queries[q] for q in ids])
    approx, _ = _search(production, column.name, vectors, k=k, exact=False)
    if known_exact is None or any(q not in known_exact for q in ids):
        found, _ = _search(production, column.name, vectors, k=k, exact=True)
        known_exact = dict(zip(ids, found, strict=True))
    hits = [
        len(set(a) & set(known_exact[q])) / max(len(known_exact[q]), 1)
        for q, a in zip(ids, approx, strict=True)
    ]
    recall = float(np.mean(hits))
    kind = getattr(indexed[0], "index_type", "index")
    verdict: SignalStatus = "ok" if recall >= minimum else "alarm"
    reason = (
        f"{kind} on {column.name}: recall@{k} {recall:.3f} against exact search on {len(ids)} eval queries"
    )
    if verdict == "alarm":
        reason += (
            f" (below {minimum}): the index misses true neighbours; rebuild it with more partitions/probes"
        )
    detail = {"version": production.version, "exact": known_exact}
    return Signal("index_recall", verdict, reason, {f"recall@{k}": recall}, detail)


def canary_signal(ws: Workspace, column: VectorColumn, embedder: Embedder | None) -> Signal:
    """The behavioural fingerprint: re-embed the pinned canary texts and compare with the pin.

    Catches weights changed behind the same name (a served model's provider update, a local
    runtime or tokenizer change that file hashes miss). Skipped when this workspace holds no
    canaries for the column's pin; an alarm names the minimum cosine and the fix.
    """
    pinned = load_canaries(ws, column.ref)
    if pinned is None:
        return Signal("canary", "skipped", f"not available: no canary vectors stored for {column.ref.pin}")
    try:
        model = embedder_for(column, {column.name: embedder} if embedder is not None else None)
        result = verify_canaries(model, pinned)
    except WorkbenchError as exc:
        return Signal("canary", "error", f"could not re-embed the canaries with {column.ref.pin}: {exc}")
    values = {"min_cosine": result.min_cosine, "max_norm_change": result.max_norm_change}
    if result.passed:
        return Signal("canary", "ok", f"canaries match the pin (min cosine {result.min_cosine:.5f})", values)
    return Signal(
        "canary",
        "alarm",
        f"{column.ref.pin} changed behind its pin: {result.problem}; pin the changed model as a new "
        "model, embed it beside, compare and promote",
        values,
    )


def score_features(scores: Sequence[Sequence[float]]) -> dict[str, list[float]]:
    """Per query with at least one hit: top-1, top-1 − top-10 (or the last hit), mean of the top 10."""
    top1, margin, mean = [], [], []
    for row in scores:
        head = [float(s) for s in list(row)[:_DEPTH]]
        if not head:
            continue
        top1.append(head[0])
        margin.append(head[0] - head[-1])
        mean.append(float(np.mean(head)))
    return {"top1": top1, "margin": margin, "mean_topk": mean}


def _pin_problem(column: VectorColumn) -> str | None:
    ref = column.ref
    parsed = parse_column(column.name)
    if parsed is None or column.name != ref.column:
        return (
            f"{column.name} carries the pin of {ref.pin}, whose column is {ref.column}: "
            "a mixed or renamed column"
        )
    if ref.source in ("openai", "ollama"):  # served models: their pin is checked by the canary
        return None
    try:
        verify_model_dir(ref, resolve_model_dir(ref))
    except WorkbenchError as exc:
        return f"the pin of {column.name} no longer verifies: {exc}"
    return None


def _search(
    table: Table, column: str, vectors: np.ndarray, *, k: int, exact: bool
) -> tuple[list[list[str]], list[list[float]]]:
    """Top-k ids and cosine scores per query vector, in one LanceDB call per 256 queries."""
    doc_ids: list[list[str]] = [[] for _ in range(len(vectors))]
    scores: list[list[float]] = [[] for _ in range(len(vectors))]
    for start in range(0, len(vectors), 256):
        chunk = vectors[start : start + 256]
        vector = chunk if len(chunk) > 1 else chunk[0]
        query = table.search(vector, vector_column_name=column)
        query = query.distance_type("cosine")  # type: ignore[attr-defined]  # on the vector builder
        if exact:
            query = query.bypass_vector_index()
        result = query.select(["id", "_distance"]).limit(k).to_arrow()
        index = (
            result.column("query_index").to_numpy()
            if "query_index" in result.column_names
            else np.zeros(len(result), int)
        )
        for i, doc, distance in zip(
            index, result.column("id").to_pylist(), result.column("_distance").to_numpy(), strict=True
        ):
            doc_ids[start + int(i)].append(doc)
            scores[start + int(i)].append(1.0 - float(distance))
    for i in range(len(vectors)):  # LanceDB returns each query's hits best first; keep it explicit
        order = np.argsort(-np.asarray(scores[i]), kind="stable")
        doc_ids[i] = [doc_ids[i][j] for j in order]
        scores[i] = [scores[i][j] for j in order]
    return doc_ids, scores
