"""Quality against coverage: what a half-done migration is worth, before it is done.

For each priority order (which rows a progressive run embeds first) and each merge method,
:func:`coverage_curve` measures transition search (:mod:`workbench.production.transition`) at
a list of coverages, simulated by *masking*: with both columns complete, coverage c means the
first c % of the rows in priority order count as embedded. No row is re-embedded, so the whole
curve costs one encoding of the eval queries per model. Each point is the transition search a
user would get at that coverage: the new column over the covered rows, the old column over the
others, merged by the same :func:`~workbench.retrieval.fusion.fuse` (and the same calibration
probes) as the live search. At 0 % it is exactly the old column, at 100 % exactly the new one.

Every point has the mean of each metric with its 95 % interval
(:func:`~workbench.metrics.intervals.mean_intervals`) and the paired difference against the old
column alone (:func:`~workbench.metrics.paired.paired_deltas`), so the curve answers "from
which coverage does the transition beat what we serve now, beyond noise?".

The ``query-log`` priority is simulated from the eval queries themselves: the documents the old
column returns for them (top 10, weighted 1/rank as the real log is), as if production had
logged them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.embedding.progressive import PRIORITIES, priority_order
from workbench.errors import InvalidArgumentError, LifecycleError, StaleColumnError
from workbench.metrics.intervals import mean_intervals
from workbench.metrics.labelled import Qrels, per_query_metrics
from workbench.metrics.paired import paired_deltas
from workbench.retrieval.encode import embedder_for, encode_queries
from workbench.retrieval.fusion import CALIBRATION_DEPTH, MERGES, Calibration, calibration_probes, fuse
from workbench.store.evalsets import load_eval_set
from workbench.store.production import production
from workbench.store.status import column_problems
from workbench.store.workspace import VectorColumn, Workspace

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.models.embedder import Embedder

__all__ = [
    "CURVE_METRICS",
    "DEFAULT_COVERAGES",
    "CoverageCurve",
    "coverage_curve",
    "coverage_figure",
    "simulate_curve",
]

CURVE_METRICS = ("ndcg@10", "recall@100", "mrr@10")
DEFAULT_COVERAGES = (0, 10, 25, 50, 75, 90, 100)
_DEPTH = 100
_SIMULATED_LOG_DEPTH = 10


@dataclass(frozen=True)
class CoverageCurve:
    """Transition-search quality at each coverage, per priority and merge.

    ``frame`` has one row per (priority, merge, coverage, metric): ``mean``, ``ci_low``,
    ``ci_high`` (95 % BCa), ``delta`` against the old column alone with ``delta_low`` and
    ``delta_high`` (95 %), ``p`` (paired sign-flip test) and ``new_share`` (share of the top-10
    hits ranked by the new model).
    """

    table: str
    eval_set: str
    old_column: str
    new_column: str
    n_queries: int
    rows: int
    frame: pd.DataFrame
    current_coverage: float | None = None
    """The new column's real coverage now (None when it is whole)."""
    metrics: tuple[str, ...] = field(default=CURVE_METRICS)

    def first_win(self, priority: str, merge: str, *, metric: str = "ndcg@10") -> float | None:
        """The lowest coverage (%) where transition search beats the old column with an interval
        above 0, or None."""
        part = self.frame[
            (self.frame["priority"] == priority)
            & (self.frame["merge"] == merge)
            & (self.frame["metric"] == metric)
        ]
        wins = part[part["delta_low"] > 0]
        return float(wins["coverage"].min()) if not wins.empty else None

    def figure(self, *, metric: str = "ndcg@10") -> go.Figure:
        """The curve as a plotly figure (see :func:`coverage_figure`)."""
        return coverage_figure(self, metric=metric)

    def to_dict(self) -> dict[str, Any]:
        wins = {
            f"{p}/{m}": self.first_win(p, m)
            for p in self.frame["priority"].unique()
            for m in self.frame["merge"].unique()
        }
        return {
            "table": self.table,
            "eval_set": self.eval_set,
            "old_column": self.old_column,
            "new_column": self.new_column,
            "n_queries": self.n_queries,
            "rows": self.rows,
            "current_coverage": self.current_coverage,
            "first_win_ndcg@10": wins,
            "points": self.frame.to_dict(orient="records"),
        }


def coverage_curve(
    ws: Workspace,
    table: str | None,
    new_column: str,
    *,
    eval_set: str,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    priorities: Sequence[str] = PRIORITIES,
    merges: Sequence[str] = MERGES,
    old_column: str | None = None,
    embedders: dict[str, Embedder] | None = None,
    seed: int = 0,
) -> CoverageCurve:
    """Measure transition search against coverage (see the module docstring).

    Args:
        ws: The workspace.
        table: The corpus table (default: the only one).
        new_column: The new column (name or alias); every row must have its vector.
        eval_set: The labelled queries (``NAME`` or ``NAME@VERSION``).
        coverages: Percentages in [0, 100].
        priorities: Orders to simulate (``random``, ``new-first``, ``query-log``).
        merges: Merge methods (``rrf``, ``calibrated``).
        old_column: The old column (default: production's column).
        embedders: Already-loaded models by column name.
        seed: Seed of the random order.

    Raises:
        InvalidArgumentError: a coverage outside [0, 100], an unknown priority or merge.
        StaleColumnError: a column lacks vectors for some rows (a progressive column must be
            completed to simulate coverages beyond its own).
        LifecycleError: no ``old_column`` and no production.
    """
    _check(coverages, priorities, merges)
    name = table or ws.default_table()
    handle = ws.table(name)
    new = ws.resolve_column(handle, new_column)
    if old_column is None:
        current = production(handle)
        if current is None or current.column is None:
            raise LifecycleError(
                f"table {name!r} has no production column; name the old column (--old-column)"
            )
        old_column = current.column
    old = ws.resolve_column(handle, old_column)
    if old.name == new.name:
        raise InvalidArgumentError(f"the new and the old column are both {new.name}; name two columns")
    now = _require_complete(handle, new, old)
    evals = load_eval_set(ws, eval_set)
    judged = {q: evals.queries[q] for q in evals.judged_queries}
    data = handle.to_lance().to_table(columns=["id", old.name, new.name], with_row_address=True)
    vectors = {c.name: _matrix(data.column(c.name)) for c in (old, new)}
    queries = {
        c.name: encode_queries(embedder_for(c, embedders), c, list(judged.values())) for c in (old, new)
    }
    frame = simulate_curve(
        data.column("id").to_pylist(),
        data.column("_rowaddr").to_numpy(),
        old_docs=vectors[old.name],
        new_docs=vectors[new.name],
        old_queries=queries[old.name],
        new_queries=queries[new.name],
        query_ids=list(judged),
        qrels=evals.qrels,
        coverages=coverages,
        priorities=priorities,
        merges=merges,
        seed=seed,
    )
    return CoverageCurve(name, evals.name, old.name, new.name, len(judged), data.num_rows, frame, now)


def simulate_curve(
    ids: Sequence[str],
    positions: np.ndarray,
    *,
    old_docs: np.ndarray,
    new_docs: np.ndarray,
    old_queries: np.ndarray,
    new_queries: np.ndarray,
    query_ids: Sequence[str],
    qrels: Qrels,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    priorities: Sequence[str] = PRIORITIES,
    merges: Sequence[str] = MERGES,
    seed: int = 0,
) -> pd.DataFrame:
    """The curve's frame from in-memory vectors (rows and queries already encoded); see
    :class:`CoverageCurve` for its columns."""
    _check(coverages, priorities, merges)
    doc_ids = np.asarray(ids, dtype=object)
    sims_old = _unit(old_queries) @ _unit(old_docs).T
    sims_new = _unit(new_queries) @ _unit(new_docs).T
    baseline = _metrics(
        [r for r, _ in _lists(sims_old, np.ones(len(doc_ids), bool), doc_ids)], query_ids, qrels
    )
    simulated_log = _simulated_log(sims_old, doc_ids)
    rows = []
    for priority in priorities:
        order = priority_order(list(ids), positions, priority, seed=seed, counts=simulated_log)
        for coverage in coverages:
            covered = np.zeros(len(doc_ids), dtype=bool)
            covered[order[: round(len(doc_ids) * coverage / 100)]] = True
            new_lists = _lists(sims_new, covered, doc_ids)
            old_lists = _lists(sims_old, ~covered, doc_ids)
            for merge in merges:
                calibration = (
                    _calibration(doc_ids, covered, old_docs, new_docs) if merge == "calibrated" else None
                )
                fused = [
                    fuse(*n, *o, k=_DEPTH, merge=merge, calibration=calibration)
                    for n, o in zip(new_lists, old_lists, strict=True)
                ]
                per_query = _metrics([[f.id for f in hits] for hits in fused], query_ids, qrels)
                share = float(np.mean([_new_share(hits) for hits in fused])) if fused else 0.0
                rows += _points(priority, merge, coverage, per_query, baseline, share)
    return pd.DataFrame(rows)


def coverage_figure(curve: CoverageCurve | pd.DataFrame, *, metric: str = "ndcg@10") -> go.Figure:
    """One line per priority and merge: ``metric`` against coverage, with its 95 % band.

    The dotted line is the old column alone (the 0 % point); the current coverage of the
    column, when it is progressive, is marked.
    """
    import plotly.graph_objects as go

    frame = curve.frame if isinstance(curve, CoverageCurve) else curve
    part = frame[frame["metric"] == metric]
    fig = go.Figure()
    for (priority, merge), line in part.groupby(["priority", "merge"], sort=True):
        line = line.sort_values("coverage")
        label = f"{priority} · {merge}"
        fig.add_trace(
            go.Scatter(
                x=line["coverage"],
                y=line["mean"],
                mode="lines+markers",
                name=label,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": line["ci_high"] - line["mean"],
                    "arrayminus": line["mean"] - line["ci_low"],
                    "thickness": 1,
                },
            )
        )
    if not part.empty:
        old = float(part[part["coverage"] == part["coverage"].min()]["mean"].iloc[0])
        fig.add_hline(y=old, line_dash="dot", line_color="#999999", annotation_text="old column")
    if isinstance(curve, CoverageCurve) and curve.current_coverage is not None:
        fig.add_vline(x=100 * curve.current_coverage, line_dash="dash", annotation_text="coverage now")
    fig.update_layout(
        template="plotly_white",
        title=f"Transition search: {metric} against coverage",
        xaxis_title="coverage of the new column (%)",
        yaxis_title=metric,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
    )
    return fig


def _check(coverages: Sequence[float], priorities: Sequence[str], merges: Sequence[str]) -> None:
    if not coverages:
        raise InvalidArgumentError("give at least one coverage, e.g. --coverages 0,50,100")
    bad = [c for c in coverages if not 0 <= float(c) <= 100]
    if bad:
        raise InvalidArgumentError(f"coverages are percentages in [0, 100]; got {bad}")
    for value, allowed, what in ((priorities, PRIORITIES, "priority"), (merges, MERGES, "merge")):
        unknown = [v for v in value if v not in allowed]
        if unknown or not value:
            raise InvalidArgumentError(
                f"unknown {what} {unknown or value!r}; choose from {', '.join(allowed)}"
            )


def _require_complete(handle: Any, new: VectorColumn, old: VectorColumn) -> float | None:
    """The new column's coverage now if progressive; refuses a column with rows to simulate missing."""
    total = handle.count_rows()
    now = None
    for column in (old, new):
        missing, stale = column_problems(handle, column, read_vectors=False)
        if column is new and column.is_progressive:
            now = (total - missing) / max(total, 1)
        if missing or stale:
            raise StaleColumnError(
                f"{column.name} has {missing} rows without a vector and {stale} stale rows; the curve is "
                "simulated by masking complete columns: complete it first (`workbench embed --model "
                "ALIAS` without --progressive), or measure another table"
            )
    return now


def _matrix(column: Any) -> np.ndarray:
    flat = column.combine_chunks()
    return np.asarray(flat.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(len(flat), -1)


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def _lists(sims: np.ndarray, mask: np.ndarray, doc_ids: np.ndarray) -> list[tuple[list[str], np.ndarray]]:
    """Each query's top-``_DEPTH`` ids and cosines among the rows in ``mask``."""
    allowed = np.flatnonzero(mask)
    if allowed.size == 0:
        return [([], np.empty(0)) for _ in range(sims.shape[0])]
    part = sims[:, allowed]
    depth = min(_DEPTH, allowed.size)
    top = np.argpartition(-part, depth - 1, axis=1)[:, :depth]
    out = []
    for row, candidates in enumerate(top):
        scores = part[row, candidates]
        order = candidates[np.lexsort((candidates, -scores))]
        out.append((list(doc_ids[allowed[order]]), part[row, order]))
    return out


def _simulated_log(sims_old: np.ndarray, doc_ids: np.ndarray) -> dict[str, float]:
    counts: dict[str, float] = {}
    for ranked, _ in _lists(sims_old, np.ones(len(doc_ids), bool), doc_ids):
        for rank, doc in enumerate(ranked[:_SIMULATED_LOG_DEPTH], start=1):
            counts[doc] = counts.get(doc, 0.0) + 1.0 / rank
    return counts


def _calibration(
    doc_ids: np.ndarray, covered: np.ndarray, old_docs: np.ndarray, new_docs: np.ndarray
) -> Calibration:
    """The live search's calibration, in numpy: the same probes, neighbours over the covered rows."""
    covered_ids = list(doc_ids[covered])
    probes = calibration_probes(covered_ids)
    if not probes:
        return Calibration(np.empty(0), np.empty(0))
    where = {doc: i for i, doc in enumerate(doc_ids)}
    rows = np.array([where[p] for p in probes])
    samples = []
    for docs in (new_docs, old_docs):
        unit = _unit(docs)
        sims = unit[rows] @ unit[covered].T
        depth = min(CALIBRATION_DEPTH + 1, sims.shape[1])
        best = -np.sort(-sims, axis=1)[:, 1:depth]
        samples.append(best)
    return Calibration.from_neighbours(samples[0], samples[1])


def _metrics(rankings: Sequence[Sequence[str]], query_ids: Sequence[str], qrels: Qrels) -> pd.DataFrame:
    """Per-query metrics of ranked id lists (scores descend with rank, so ties never reorder)."""
    run = {
        qid: {doc: float(len(docs) - rank) for rank, doc in enumerate(docs)}
        for qid, docs in zip(query_ids, rankings, strict=True)
    }
    judged = {q: qrels[q] for q in query_ids if q in qrels}
    return per_query_metrics(run, judged, list(CURVE_METRICS))


def _new_share(hits: Sequence[Any]) -> float:
    top = hits[:10]
    return sum(h.source == "new" for h in top) / len(top) if top else 0.0


def _points(
    priority: str, merge: str, coverage: float, per_query: pd.DataFrame, baseline: pd.DataFrame, share: float
) -> list[dict[str, Any]]:
    intervals = mean_intervals(per_query)
    deltas = paired_deltas(baseline, per_query, n_resamples=2_000)
    return [
        {
            "priority": priority,
            "merge": merge,
            "coverage": float(coverage),
            "metric": metric,
            "mean": float(intervals.loc[metric, "mean"]),
            "ci_low": float(intervals.loc[metric, "ci_low"]),
            "ci_high": float(intervals.loc[metric, "ci_high"]),
            "delta": deltas[metric].delta,
            "delta_low": deltas[metric].ci_low,
            "delta_high": deltas[metric].ci_high,
            "p": deltas[metric].p_permutation,
            "new_share": share,
        }
        for metric in CURVE_METRICS
    ]
