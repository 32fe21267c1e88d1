"""Running a comparison end to end: baseline column vs candidate column on one eval set.

Each query is encoded by the pinned model of the column it is searched against — never a
query vector from one model against the other's document vectors — and searched in batches.
The result carries labelled metrics (:mod:`workbench.metrics.labelled`) with paired
statistics (:mod:`workbench.metrics.paired`), label-free rank shifts and score distributions
(:mod:`workbench.metrics.shifts`) and a manifest with the table version, both pins, the
eval-set hash and library versions; it is stored in the workspace
(:mod:`workbench.store.comparisons`) unless ``store=False``.

Example:
    >>> cmp = compare(ws, baseline="minilm-l3", candidate="minilm-l6", eval_set="demo")  # doctest: +SKIP
    >>> cmp.summary  # doctest: +SKIP
    'nDCG@10 +0.041 [0.018, 0.064], p=0.001: the candidate is better on 31 queries, worse on 12 (9 ties).'
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from workbench.comparison.index_eval import describe_evidence, measure_index
from workbench.comparison.segments import query_segments
from workbench.errors import DataError, InvalidArgumentError
from workbench.metrics.judged import judged_at_k, judged_gap_warning
from workbench.metrics.labelled import parse_metric, per_query_metrics
from workbench.metrics.paired import DeltaStats, describe_delta, paired_deltas
from workbench.metrics.segments import segment_column, segment_deltas
from workbench.metrics.shifts import ks_distance, rank_shift_table, translate_thresholds
from workbench.models.embedder import Embedder
from workbench.progress import ProgressFn
from workbench.retrieval.documents import fetch_documents
from workbench.retrieval.encode import embedder_for
from workbench.retrieval.search import Retrieval, check_fresh, retrieve
from workbench.store.comparisons import (
    DELTA_COLUMNS,
    KS,
    SIDES,
    Comparison,
    Manifest,
    save_comparison,
)
from workbench.store.evalsets import EvalSet, load_eval_set
from workbench.store.status import corpus_digest
from workbench.store.workspace import VectorColumn, Workspace, library_versions

if TYPE_CHECKING:
    from lancedb.table import Table

__all__ = ["DEFAULT_CUTOFFS", "FAMILIES", "compare"]

log = logging.getLogger(__name__)

FAMILIES = ("ndcg", "recall", "mrr", "map", "precision", "hit_rate")
_NO_RANKING = pd.DataFrame({"query_id": pd.Series(dtype=str), "rank": pd.Series(dtype="int64"), "score": []})
DEFAULT_CUTOFFS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.9)


@dataclass(frozen=True)
class _Plan:
    """Validated inputs: nothing has been computed or written yet."""

    eval_set: EvalSet
    table: Table
    columns: dict[str, VectorColumn]
    labels: dict[str, str]
    k_values: list[int]
    metrics: list[str]
    depth: int
    corpus_digest: str
    warnings: list[str]
    segment_by: list[str] | None = None


def compare(
    ws: Workspace,
    *,
    baseline: str,
    candidate: str,
    eval_set: str,
    table: str | None = None,
    k: Sequence[int] = (10, 100),
    metrics: Sequence[str] | None = None,
    embedders: Mapping[str, Embedder] | None = None,
    on_progress: ProgressFn | None = None,
    store: bool = True,
    allow_stale: bool = False,
    cutoffs: Sequence[float] | None = None,
    index: bool = True,
    clock: Callable[[], datetime] | None = None,
    segment_by: Sequence[str] | None = None,
    before_scan: Callable[[], object] | None = None,
) -> Comparison:
    """Compare two vector columns on an eval set and (by default) store the result.

    Args:
        ws: The workspace.
        baseline: The current column: a model alias or a vector column name.
        candidate: The new column, likewise.
        eval_set: Name of the eval set; its unjudged queries count for rank shifts only.
        table: Corpus table (default: the eval set's table).
        k: Cut-offs; labelled metrics are computed at each, rank shifts at each (overlap,
            Jaccard) and at the smallest (RBO, Kendall τ, entered/left, score distributions).
        metrics: Names such as ``ndcg@10`` (default: ndcg, recall, mrr, map, precision and
            hit_rate at every k).
        embedders: Already-loaded embedders keyed by column name; others are loaded from the
            column's pin (and verified against its fingerprint).
        on_progress: Called with ``(queries_done, queries_total)`` over both sides.
        store: Save the comparison in the workspace table ``wb_comparisons``.
        allow_stale: Compare columns with missing or stale rows anyway (recorded as a
            warning) instead of refusing.
        cutoffs: Old-model similarity cut-offs to translate to the new model's scale (default:
            :data:`DEFAULT_CUTOFFS` plus the median, 75th and 90th percentile of the old
            model's top-k scores, so the table is useful whatever the model's scale).
        index: For each column with an ANN index, also measure the index: recall@k against
            the exact search (k = the smallest cut-off), the metrics through the index and
            single-query latency p50/p95 both ways (``manifest.index``, and a line in the summary).
        clock: Returns the current UTC time (injected by tests).
        segment_by: Report every metric per segment of these keys: the eval set's query
            metadata keys (``language``, ``topic``, …) or the automatic ``length`` and
            ``baseline_score`` (default: every metadata key, or the automatic two when the
            queries carry no metadata; ``[]`` for none). Per segment: both sides, the delta's
            interval and p Holm-adjusted across segments (``Comparison.segments``).
        before_scan: Called before each exact scan, once the queries it searches are encoded
            (the CLI turns on its one-malloc-arena mode there, so the scan's peak memory is low
            and encoding does not pay for it).

    Raises:
        NotFoundError: the eval set, table or a column does not exist.
        InvalidArgumentError: k <= 0, an unknown metric, an unknown segment key, or baseline and
            candidate are one column.
        DataError: the table is empty, or no judged document of the eval set is in it.
        StaleColumnError: a column has missing or stale rows and ``allow_stale`` is False.
        MixedIndexError: an injected embedder is not the column's pinned model.
    """
    started = time.perf_counter()
    plan = _plan(ws, baseline, candidate, eval_set, table, k, metrics, allow_stale, segment_by)
    loaded = {side: embedder_for(plan.columns[side], embedders) for side in SIDES}
    retrieved, timings = _retrieve(plan, loaded, on_progress, before_scan)
    rankings = {side: r.rankings for side, r in retrieved.items()}
    tick = time.perf_counter()
    result = _analyse(plan, rankings, cutoffs)
    timings.update(metrics_s=time.perf_counter() - tick)
    evidence = _index_evidence(plan, retrieved) if index else {}
    if evidence:
        timings.update(index_s=time.perf_counter() - tick - timings["metrics_s"])
        line = describe_evidence(evidence, result.headline)
        result = replace(result, summary=f"{result.summary} Through the index: {line}.")
    timings.update(total_s=time.perf_counter() - started)
    now = (clock or _utcnow)()
    comparison = Comparison(
        id=_new_id(now),
        manifest=_manifest(plan, result, now, timings, evidence),
        summary=result.summary,
        deltas=_delta_frame(result.stats),
        per_query=result.per_query,
        rankings=result.rankings,
        documents=result.documents,
        thresholds=result.thresholds,
        ks=result.ks,
    )
    if store:
        save_comparison(ws, comparison)
        log.info("stored comparison %s", comparison.id)
    return comparison


# --- validation ----------------------------------------------------------------------------


def _plan(
    ws: Workspace,
    baseline: str,
    candidate: str,
    eval_set_name: str,
    table_name: str | None,
    k: Sequence[int],
    metrics: Sequence[str] | None,
    allow_stale: bool,
    segment_by: Sequence[str] | None = None,
) -> _Plan:
    k_values = _check_k(k)
    metric_names = _check_metrics(metrics, k_values)
    eval_set = load_eval_set(ws, eval_set_name)
    table = ws.table(table_name or eval_set.table)
    table.checkout(table.version)  # every read below sees this one version
    if table.count_rows() == 0:
        raise DataError(f"table {table.name!r} has no documents: nothing to compare")
    labels = {"baseline": baseline, "candidate": candidate}
    columns = {side: ws.resolve_column(table, name) for side, name in labels.items()}
    if columns["baseline"].name == columns["candidate"].name:
        raise InvalidArgumentError(
            f"baseline {baseline!r} and candidate {candidate!r} are the same column "
            f"({columns['baseline'].name}); compare two different models"
        )
    warnings = [] if eval_set.table == table.name else [f"eval set made for table {eval_set.table!r}"]
    warnings += check_fresh(table, list(columns.values()), allow_stale=allow_stale)
    warnings += _qrels_warnings(eval_set, table)
    depth = max([*k_values, *(parse_metric(m)[1] for m in metric_names)])
    digest = corpus_digest(table)
    keys = None if segment_by is None else [segment_by] if isinstance(segment_by, str) else list(segment_by)
    query_segments(eval_set, _NO_RANKING, keys)  # an unknown key is refused before any search
    return _Plan(eval_set, table, columns, labels, k_values, metric_names, depth, digest, warnings, keys)


def _check_k(k: Sequence[int]) -> list[int]:
    values = [k] if isinstance(k, int) else list(k)
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1]
    if not values or bad:
        raise InvalidArgumentError(f"k must be one or more positive integers such as 10,100; got {k!r}")
    return sorted({int(v) for v in values})


def _check_metrics(metrics: Sequence[str] | None, k_values: list[int]) -> list[str]:
    if metrics is None:
        return [f"{family}@{k}" for k in k_values for family in FAMILIES]
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise InvalidArgumentError(
            "metrics is empty; give names such as ['ndcg@10'] or None for the defaults"
        )
    canonical = [f"{family}@{k}" for family, k in map(parse_metric, names)]
    repeated = sorted({m for m in canonical if canonical.count(m) > 1})
    if repeated:
        raise InvalidArgumentError(f"metric names must be unique, repeated: {', '.join(repeated)}")
    return canonical


def _qrels_warnings(eval_set: EvalSet, table: Table) -> list[str]:
    judged = {doc for qid in eval_set.judged_queries for doc, g in eval_set.qrels[qid].items() if g > 0}
    if not judged:
        return ["the eval set has no judged queries: labelled metrics are skipped, rank shifts only"]
    found = table.to_lance().to_table(columns=["id"], filter=pc.field("id").isin(sorted(judged)))
    missing = len(judged) - found.num_rows
    if missing == len(judged):
        raise DataError(
            f"none of the {len(judged)} relevant documents named by eval set {eval_set.name!r} is in "
            f"table {table.name!r}: wrong table, or document ids that differ from the corpus ids"
        )
    if missing:
        return [f"{missing} of {len(judged)} relevant documents in the qrels are not in the table"]
    return []


# --- retrieval -----------------------------------------------------------------------------


def _retrieve(
    plan: _Plan,
    loaded: dict[str, Embedder],
    on_progress: ProgressFn | None,
    before_scan: Callable[[], object] | None,
) -> tuple[dict[str, Retrieval], dict[str, float]]:
    """Each side's top ``depth`` for every query, each side encoded by its own model."""
    n = len(plan.eval_set.queries)
    rankings, timings = {}, {"encode_s": 0.0, "search_s": 0.0}
    for offset, side in enumerate(SIDES):
        progress = None if on_progress is None else _shifted(on_progress, offset * n, 2 * n)
        column, queries = plan.columns[side], plan.eval_set.queries
        result = retrieve(
            plan.table,
            column,
            loaded[side],
            queries,
            k=plan.depth,
            on_progress=progress,
            before_scan=before_scan,
        )
        rankings[side] = result
        timings["encode_s"] += result.encode_s
        timings["search_s"] += result.search_s
    return rankings, timings


def _index_evidence(plan: _Plan, retrieved: dict[str, Retrieval]) -> dict[str, dict[str, Any]]:
    """Per side whose column has an ANN index: recall vs exact, metrics through it, latencies."""
    judged = plan.eval_set.judged_queries
    qrels = {q: plan.eval_set.qrels[q] for q in judged}
    found: dict[str, dict[str, Any]] = {}
    for side in SIDES:
        got = retrieved[side]
        if got.vectors is None or not len(got.vectors):
            continue
        measured = measure_index(
            plan.table,
            plan.columns[side].name,
            got.vectors,
            list(plan.eval_set.queries),
            got.rankings,
            k=plan.k_values[0],
            depth=plan.depth,
        )
        if measured is None:
            continue
        evidence, rankings = measured
        means = _metrics(rankings, qrels, plan.metrics).mean() if qrels else pd.Series(dtype=float)
        found[side] = {**evidence.to_dict(), "metrics": {m: float(v) for m, v in means.items()}}
    return found


def _shifted(on_progress: ProgressFn, offset: int, total: int) -> ProgressFn:
    return lambda done, _total: on_progress(offset + done, total)


# --- assembling the result -----------------------------------------------------------------


@dataclass(frozen=True)
class _Analysis:
    stats: dict[str, DeltaStats]
    headline: str | None
    summary: str
    per_query: pd.DataFrame
    rankings: pd.DataFrame
    documents: pd.DataFrame
    thresholds: pd.DataFrame
    ks: KS
    warnings: list[str]
    segments: list[dict[str, Any]]
    segment_source: str


def _analyse(plan: _Plan, rankings: dict[str, pd.DataFrame], cutoffs: Sequence[float] | None) -> _Analysis:
    """Labelled metrics with paired statistics, rank shifts, score distributions, documents."""
    judged = plan.eval_set.judged_queries
    qrels = {q: plan.eval_set.qrels[q] for q in judged}
    metric_frames = {side: _metrics(rankings[side], qrels, plan.metrics) for side in SIDES}
    stats = _paired(plan.metrics, metric_frames) if judged else {}
    shift_k = plan.k_values[0]
    per_query = _per_query(plan, metric_frames, rankings, shift_k)
    long = _long_rankings(rankings, qrels, plan.eval_set.qrels)
    top = long[long["rank"] <= shift_k]
    scores = {side: top.loc[top["side"] == side, "score"].to_numpy() for side in SIDES}
    headline = _headline(plan.metrics, plan.k_values) if judged else None
    assigned, source = query_segments(plan.eval_set, rankings["baseline"], plan.segment_by)
    for key, values in assigned.items():
        per_query[segment_column(key)] = per_query["query_id"].map(values).astype("str")
    segments = _segments(plan.metrics, metric_frames, assigned) if judged else []
    return _Analysis(
        stats=stats,
        headline=headline,
        summary=_summary(stats.get(headline or ""), per_query, shift_k),
        per_query=per_query,
        rankings=long,
        documents=fetch_documents(plan.table, long["doc_id"].unique()),
        thresholds=translate_thresholds(scores["baseline"], scores["candidate"], _cutoffs(cutoffs, scores)),
        ks=KS(*ks_distance(scores["baseline"], scores["candidate"])),
        warnings=plan.warnings
        + _power_warning(stats.get(headline or ""))
        + _judged_warning(per_query, shift_k),
        segments=segments,
        segment_source=source if assigned else "",
    )


def _segments(
    metrics: list[str], frames: dict[str, pd.DataFrame], assigned: dict[str, pd.Series]
) -> list[dict[str, Any]]:
    """Per-segment statistics as JSON-ready records (NaN as None, so a stored copy compares equal)."""
    if not assigned:
        return []
    frame = segment_deltas(frames["baseline"][metrics], frames["candidate"][metrics], assigned)
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{str(k): v for k, v in r.items()} for r in records]


def _manifest(
    plan: _Plan, result: _Analysis, now: datetime, timings: dict[str, float], index: dict[str, dict[str, Any]]
) -> Manifest:
    eval_set, columns = plan.eval_set, plan.columns
    n_judged = len(eval_set.judged_queries)
    return Manifest(
        table=plan.table.name,
        table_version=int(plan.table.version),
        corpus_digest=plan.corpus_digest,
        baseline_column=columns["baseline"].name,
        candidate_column=columns["candidate"].name,
        baseline_pin=columns["baseline"].ref.model_dump(),
        candidate_pin=columns["candidate"].ref.model_dump(),
        eval_set=eval_set.name,
        eval_set_hash=eval_set.content_hash,
        k_values=plan.k_values,
        metrics=plan.metrics,
        n_queries=len(eval_set.queries),
        n_judged=n_judged,
        n_unjudged=len(eval_set.queries) - n_judged,
        created_at=now.isoformat(timespec="seconds"),
        library_versions=library_versions(),
        warnings=result.warnings,
        baseline_label=plan.labels["baseline"],
        candidate_label=plan.labels["candidate"],
        headline_metric=result.headline,
        depth=plan.depth,
        shift_k=plan.k_values[0],
        timings=timings,
        index=index,
        segments=result.segments,
        segment_source=result.segment_source,
    )


def _metrics(ranking: pd.DataFrame, qrels: dict[str, dict[str, int]], metrics: list[str]) -> pd.DataFrame:
    if not qrels:
        return pd.DataFrame(columns=metrics, dtype=float)
    docs, scores = _by_query(ranking, "doc_id"), _by_query(ranking, "score")
    run = {qid: dict(zip(docs[qid], scores[qid], strict=True)) for qid in docs}
    return per_query_metrics(run, qrels, metrics)


def _by_query(ranking: pd.DataFrame, column: str) -> dict[str, list]:
    """Query id → the column's values in row order, read as whole arrays, not row by row."""
    codes, query_ids = pd.factorize(ranking["query_id"])
    values = ranking[column].to_numpy(dtype=object)[np.argsort(codes, kind="stable")].tolist()
    bounds = [0, *np.cumsum(np.bincount(codes, minlength=len(query_ids))).tolist()]
    return {str(q): values[lo:hi] for q, (lo, hi) in zip(query_ids, pairwise(bounds), strict=True)}


def _paired(metrics: list[str], frames: dict[str, pd.DataFrame]) -> dict[str, DeltaStats]:
    return paired_deltas(frames["baseline"][metrics], frames["candidate"][metrics])


def _delta_frame(stats: dict[str, DeltaStats]) -> pd.DataFrame:
    """One row per metric with :data:`DELTA_COLUMNS`; empty (typed) without judged queries."""
    rename = {"baseline_mean": "baseline", "candidate_mean": "candidate"}
    rows = [{rename.get(k, k): v for k, v in asdict(s).items() if k != "metric"} for s in stats.values()]
    index = pd.Index(list(stats), name="metric", dtype="str")
    frame = pd.DataFrame(rows, columns=DELTA_COLUMNS, index=index, dtype=float)
    return frame.astype({c: "int64" for c in ("wins", "ties", "losses", "n")})


def _per_query(
    plan: _Plan, metric_frames: dict[str, pd.DataFrame], rankings: dict[str, pd.DataFrame], shift_k: int
) -> pd.DataFrame:
    """One row per query: text, judged, each metric per side and its delta, rank shifts."""
    eval_set = plan.eval_set
    ids = sorted(eval_set.queries)
    frame = pd.DataFrame({"query_id": ids, "query": [eval_set.queries[q] for q in ids]}).astype("str")
    frame["judged"] = frame["query_id"].isin(set(eval_set.judged_queries))
    columns: dict[str, np.ndarray] = {}
    values = {side: metric_frames[side].reindex(ids).astype(float) for side in SIDES}
    for metric in plan.metrics:
        baseline, candidate = values["baseline"][metric].to_numpy(), values["candidate"][metric].to_numpy()
        columns.update({f"{metric}_baseline": baseline, f"{metric}_candidate": candidate})
        columns[f"{metric}_delta"] = candidate - baseline
    lists = {side: _by_query(rankings[side], "doc_id") for side in SIDES}
    lists = {side: {q: lists[side].get(q, []) for q in ids} for side in SIDES}
    for k in plan.k_values:
        for side in SIDES:
            shares = judged_at_k(lists[side], eval_set.qrels, k=k)
            columns[f"judged@{k}_{side}"] = np.array([shares[q] for q in ids], dtype=float)
        shifts = rank_shift_table(lists["baseline"], lists["candidate"], k=k).reindex(ids)
        columns[f"overlap@{k}"] = shifts["overlap"].to_numpy()
        columns[f"jaccard@{k}"] = shifts["jaccard"].to_numpy()
        if k == shift_k:
            columns.update(
                {name: shifts[name].to_numpy() for name in ("rbo", "kendall_tau", "n_entered", "n_left")}
            )
    return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)


def _long_rankings(
    rankings: dict[str, pd.DataFrame], qrels: dict[str, dict[str, int]], all_qrels: dict[str, dict[str, int]]
) -> pd.DataFrame:
    """Both sides stacked: query_id, side, rank, doc_id, score, grade, judged.

    ``grade`` follows the metrics (0 for an unjudged document of a judged query); ``judged``
    says whether the qrels hold a judgement (any grade) for this query and document.
    """
    frames = [frame.assign(side=side) for side, frame in rankings.items()]
    long = pd.concat(frames, ignore_index=True)[["query_id", "side", "rank", "doc_id", "score"]]
    long["side"] = long["side"].astype("str")
    query_ids = long["query_id"].to_numpy(dtype=object).tolist()
    doc_ids = long["doc_id"].to_numpy(dtype=object).tolist()
    pairs = list(zip(query_ids, doc_ids, strict=True))
    grades = [qrels[q].get(d, 0) if q in qrels else None for q, d in pairs]
    judged = [d in all_qrels.get(q, ()) for q, d in pairs]
    return long.assign(grade=pd.array(grades, dtype="Int64"), judged=np.array(judged, dtype=bool))


def _headline(metrics: list[str], k_values: list[int]) -> str:
    preferred = f"ndcg@{k_values[0]}"
    return preferred if preferred in metrics else metrics[0]


def _summary(headline: DeltaStats | None, per_query: pd.DataFrame, shift_k: int) -> str:
    if headline is not None:
        return describe_delta(headline)
    overlap = per_query[f"overlap@{shift_k}"].mean()
    return (
        f"No judged queries, so no labelled metrics: on {len(per_query)} queries the candidate's "
        f"top {shift_k} shares {overlap:.0%} of the baseline's on average "
        f"(RBO {per_query['rbo'].mean():.2f})."
    )


def _power_warning(stats: DeltaStats | None) -> list[str]:
    """Say when the eval set is too small to detect the difference that was observed."""
    if stats is None or abs(stats.delta) >= stats.mde:
        return []
    if math.isnan(stats.mde):
        return [f"only {stats.n} judged query: too few to detect any difference in {stats.metric}"]
    return [
        f"with {stats.n} judged queries only {stats.metric} differences larger than ±{stats.mde:.3f} "
        f"can be detected reliably (power 0.8); the observed {stats.delta:+.3f} is below that — "
        "add judged queries before deciding on it"
    ]


def _judged_warning(per_query: pd.DataFrame, k: int) -> list[str]:
    warning = judged_gap_warning(per_query[f"judged@{k}_baseline"], per_query[f"judged@{k}_candidate"], k=k)
    return [warning] if warning else []


def _cutoffs(cutoffs: Sequence[float] | None, scores: dict[str, np.ndarray]) -> list[float]:
    if cutoffs is not None:
        return [float(c) for c in cutoffs]
    old = scores["baseline"]
    if not old.size:
        return list(DEFAULT_CUTOFFS)
    quantiles = np.quantile(old, [0.5, 0.75, 0.9])
    candidates = sorted({*DEFAULT_CUTOFFS, *(round(float(q), 2) for q in quantiles)})
    # Only cut-offs inside the observed range keep some results and drop others; one above every
    # score would "translate" to just above the new maximum, which means nothing.
    return [c for c in candidates if old.min() < c <= old.max()]


def _new_id(now: datetime) -> str:
    return f"cmp-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _utcnow() -> datetime:
    return datetime.now(UTC)
