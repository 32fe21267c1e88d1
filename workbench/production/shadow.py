"""Shadow evaluation on live queries: what the candidate would have answered, compared, stored.

While a shadow rollout is in force (:func:`workbench.production.rollout.start_shadow`), the
serving process answers every query from production and hands a sample of them to a
:class:`ShadowLog` with production's answer; a background worker runs the query against the
candidate and records one row per query in :data:`~workbench.contract.SHADOW_LOG_TABLE`:
overlap@k, rank-biased overlap and Kendall τ of the shared documents (label-free agreement,
:mod:`workbench.metrics.shifts`), both top-k ids and scores, and both latencies. Query text is
hashed by default, as the query log does; ``text="plain"`` keeps it, which the judging loop
needs to offer the most-disagreeing live queries for labelling.

:func:`shadow_report` turns the log into evidence with 95 % bootstrap intervals.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.contract import SHADOW_LOG_TABLE, shadow_log_schema
from workbench.metrics.intervals import mean_intervals
from workbench.metrics.shifts import kendall_tau_shared, overlap_at_k, rank_biased_overlap
from workbench.store.buffer import RecordBuffer
from workbench.store.query_log import TextMode, text_mode

if TYPE_CHECKING:
    from workbench.production.serving import SearchResult
    from workbench.store.workspace import Workspace

__all__ = [
    "ShadowLog",
    "ShadowReport",
    "agreement",
    "disagreeing_queries",
    "read_shadow_log",
    "shadow_report",
]


def agreement(production_ids: list[str], candidate_ids: list[str], k: int) -> dict[str, float]:
    """Overlap@k, RBO (p = 0.9) and Kendall τ of the shared documents of two top-k lists."""
    return {
        "overlap": overlap_at_k(production_ids, candidate_ids, k),
        "rbo": rank_biased_overlap(production_ids[:k], candidate_ids[:k]),
        "kendall_tau": kendall_tau_shared(production_ids[:k], candidate_ids[:k]),
    }


class ShadowLog:
    """The writer of shadow comparisons (buffered; see :class:`~workbench.store.buffer.RecordBuffer`).

    Args:
        ws: The workspace.
        text: ``"hashed"`` (default), ``"plain"`` or ``"none"``: how the query text is kept.
        max_rows: Rows kept in the log; the oldest beyond it are deleted at a flush.
        flush_every: Buffered rows that trigger a write.
    """

    def __init__(
        self, ws: Workspace, *, text: TextMode = "hashed", max_rows: int = 100_000, flush_every: int = 64
    ) -> None:
        self.text = text_mode(text)
        self._buffer = RecordBuffer(
            ws, SHADOW_LOG_TABLE, shadow_log_schema(), max_rows=max_rows, flush_every=flush_every
        )

    def record(
        self,
        production: SearchResult,
        candidate: SearchResult,
        *,
        k: int,
        rollout: int,
        production_ms: float,
        candidate_ms: float,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Compare two answers to one query and buffer the row; returns the row."""
        ids_p = [hit.id for hit in production.hits]
        ids_c = [hit.id for hit in candidate.hits]
        query = production.query
        row = {
            "table": production.table,
            "at": at or datetime.now(UTC),
            "rollout": rollout,
            "query": query if self.text == "plain" else None,
            "query_sha256": hashlib.sha256(query.encode("utf-8")).hexdigest()
            if self.text != "none"
            else None,
            "k": k,
            "production_column": production.column,
            "production_version": production.version,
            "candidate_column": candidate.column,
            "candidate_version": candidate.version,
            **agreement(ids_p, ids_c, k),
            "production_ids": ids_p,
            "candidate_ids": ids_c,
            "production_scores": [hit.score for hit in production.hits],
            "candidate_scores": [hit.score for hit in candidate.hits],
            "production_ms": production_ms,
            "candidate_ms": candidate_ms,
        }
        self._buffer.add(row)
        return row

    def flush(self) -> int:
        """Write the buffered rows; how many."""
        return self._buffer.flush()


def read_shadow_log(
    ws: Workspace, table: str, *, candidate: str | None = None, since: datetime | None = None
) -> pa.Table:
    """The shadow rows of ``table`` (optionally of one candidate column, since a time), oldest first."""
    from workbench.store.records import read_records

    data = read_records(ws, SHADOW_LOG_TABLE, equals={"table": table})
    if data is None:
        return shadow_log_schema().empty_table()
    if candidate is not None:
        data = data.filter(pc.field("candidate_column") == pa.scalar(candidate))
    if since is not None:
        data = data.filter(pc.field("at") >= pa.scalar(since.astimezone(UTC), pa.timestamp("us", tz="UTC")))
    return data.sort_by("at")


@dataclass(frozen=True)
class ShadowReport:
    """Label-free live evidence for one candidate: agreement with production, scores, latency."""

    table: str
    candidate: str | None
    production: str | None
    queries: int
    agreement: dict[str, dict[str, float]] = field(default_factory=dict)
    """``overlap`` / ``rbo`` / ``kendall_tau`` → mean, ci_low, ci_high, n."""
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    """``production`` / ``candidate`` → top-1 score quantiles (p10, p50, p90) and mean top-k score."""
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    """``production`` / ``candidate`` → p50, p99."""
    since: str | None = None
    until: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The report as text lines for a terminal."""
        if not self.queries:
            return [
                f"no shadow queries recorded for {self.candidate or 'any candidate'} on {self.table!r} yet"
            ]
        out = [f"{self.candidate} vs production {self.production} on {self.queries} live queries"]
        for name, label in (("overlap", "overlap@k"), ("rbo", "RBO"), ("kendall_tau", "Kendall τ (shared)")):
            stats = self.agreement.get(name)
            if stats and not np.isnan(stats["mean"]):
                out.append(
                    f"  {label:<20} {stats['mean']:.3f} [{stats['ci_low']:.3f}, {stats['ci_high']:.3f}]"
                )
        for side in ("production", "candidate"):
            s, t = self.scores.get(side, {}), self.latency_ms.get(side, {})
            out.append(
                f"  {side:<11} top-1 score p50 {s.get('top1_p50', float('nan')):.3f}  latency p50 "
                f"{t.get('p50', float('nan')):.1f} ms, p99 {t.get('p99', float('nan')):.1f} ms"
            )
        return out


def shadow_report(
    ws: Workspace, table: str, *, candidate: str | None = None, since: datetime | None = None
) -> ShadowReport:
    """Summarise the shadow log of ``table`` (the latest candidate when none is named)."""
    data = read_shadow_log(ws, table, candidate=candidate, since=since)
    if candidate is None and data.num_rows:
        candidate = data.column("candidate_column")[-1].as_py()
        data = data.filter(pc.field("candidate_column") == pa.scalar(candidate))
    if not data.num_rows:
        return ShadowReport(table, candidate, None, 0)
    frame = data.select(["overlap", "rbo", "kendall_tau"]).to_pandas()
    stats = {name: _intervals(frame[name].dropna()) for name in ("overlap", "rbo", "kendall_tau")}
    scores, latency = {}, {}
    for side in ("production", "candidate"):
        lists = data.column(f"{side}_scores").to_pylist()
        top1 = np.array([values[0] for values in lists if values], dtype=float)
        scores[side] = {
            "top1_p10": _quantile(top1, 0.1),
            "top1_p50": _quantile(top1, 0.5),
            "top1_p90": _quantile(top1, 0.9),
            "mean_topk": float(np.mean([np.mean(v) for v in lists if v])) if any(lists) else float("nan"),
        }
        ms = data.column(f"{side}_ms").to_numpy(zero_copy_only=False)
        latency[side] = {"p50": _quantile(ms, 0.5), "p99": _quantile(ms, 0.99)}
    times = data.column("at")
    return ShadowReport(
        table=table,
        candidate=candidate,
        production=data.column("production_column")[-1].as_py(),
        queries=data.num_rows,
        agreement=stats,
        scores=scores,
        latency_ms=latency,
        since=times[0].as_py().isoformat(),
        until=times[-1].as_py().isoformat(),
    )


def disagreeing_queries(ws: Workspace, table: str, *, candidate: str | None = None, n: int = 20) -> list[str]:
    """The live queries where the candidate disagrees most with production (lowest RBO first).

    Only queries logged with their text (``text="plain"``) can be offered; repeats count once.
    """
    data = read_shadow_log(ws, table, candidate=candidate)
    frame = data.select(["query", "rbo"]).to_pandas().dropna(subset=["query"])
    if frame.empty:
        return []
    worst = frame.groupby("query", sort=False)["rbo"].mean().sort_values(kind="stable")
    return [str(q) for q in worst.index[:n]]


def _intervals(values: pd.Series) -> dict[str, float]:
    row = mean_intervals(pd.DataFrame({"v": values.to_numpy(dtype=float)})).loc["v"]
    return {key: float(row[key]) for key in ("mean", "ci_low", "ci_high", "n")}


def _quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if values.size else float("nan")
