"""Segments of a comparison: which queries belong together, and where the candidate loses.

The statistics are :func:`workbench.metrics.segments.segment_deltas`; this module decides the
segments (the eval set's query metadata, or automatic ones by query length and by the
baseline's top-1 score when there is none) and says in words what they show: "better overall,
worse on language=de queries: nDCG@10 −0.080 [−0.140, −0.020]".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import pandas as pd

from workbench.errors import InvalidArgumentError
from workbench.metrics.labelled import metric_label
from workbench.metrics.segments import AUTOMATIC_KEYS, automatic_segments

if TYPE_CHECKING:
    from workbench.store.comparisons import Comparison
    from workbench.store.evalsets import EvalSet

__all__ = [
    "MAX_DEFAULT_SEGMENTS",
    "SegmentSource",
    "describe_segments",
    "query_segments",
    "segment_findings",
    "segment_view",
]

MAX_DEFAULT_SEGMENTS = 20
"""A metadata key with more distinct values (an id, a free-text note) is not segmented by default."""

SegmentSource = Literal["metadata", "automatic", ""]
"""Where a comparison's segments came from: the eval set's query metadata, automatic, or none."""


def query_segments(
    eval_set: EvalSet, baseline_ranking: pd.DataFrame, segment_by: Sequence[str] | None = None
) -> tuple[dict[str, pd.Series], SegmentSource]:
    """Each segment key's assignment of query ids to segments, and where the segments came from.

    Args:
        eval_set: The eval set; its ``metadata`` keys are the segments when it has any.
        baseline_ranking: The baseline's ranking (query_id, rank, score), for the automatic
            segment by top-1 score.
        segment_by: Keys to segment by (default: every metadata key with at most
            :data:`MAX_DEFAULT_SEGMENTS` values, or the automatic ``length`` and
            ``baseline_score`` without such keys); ``[]`` for none.

    Raises:
        InvalidArgumentError: a key in ``segment_by`` is neither a metadata key nor automatic.
    """
    available = eval_set.segment_keys
    if segment_by is not None:
        unknown = [k for k in segment_by if k not in available and k not in AUTOMATIC_KEYS]
        if unknown:
            raise InvalidArgumentError(
                f"segment key {unknown[0]!r} is not in eval set {eval_set.name!r}: its queries' "
                f"metadata keys are {', '.join(available) or 'none'}; automatic: {', '.join(AUTOMATIC_KEYS)}"
            )
    if segment_by is None:
        available = [k for k in available if _distinct(eval_set, k) <= MAX_DEFAULT_SEGMENTS]
    wanted = list(segment_by) if segment_by is not None else (available or list(AUTOMATIC_KEYS))
    if not wanted:
        return {}, ""
    top = baseline_ranking[baseline_ranking["rank"] == 1].set_index("query_id")["score"]
    automatic = automatic_segments(eval_set.queries, top) if set(wanted) - set(available) else {}
    found: dict[str, pd.Series] = {}
    for key in wanted:
        if key in available:
            values = {q: m[key] for q, m in eval_set.metadata.items() if key in m and q in eval_set.queries}
            found[key] = pd.Series(values, dtype=object)
        else:
            found[key] = automatic[key]
    source: SegmentSource = "metadata" if all(k in available for k in wanted) else "automatic"
    return found, source


def _distinct(eval_set: EvalSet, key: str) -> int:
    return len({m[key] for m in eval_set.metadata.values() if key in m})


def segment_findings(cmp: Comparison, metric: str | None = None, *, alpha: float = 0.05) -> pd.DataFrame:
    """The segments where the metric's delta is significant after Holm across segments.

    Rows of :attr:`Comparison.segments` for ``metric`` (default: the headline metric) with
    ``p_holm`` below ``alpha``, worst delta first.
    """
    metric = metric or cmp.manifest.headline_metric
    frame = cmp.segments
    if frame.empty or metric is None:
        return frame
    hits = frame[(frame["metric"] == metric) & (frame["p_holm"] < alpha)]
    return hits.sort_values("delta").reset_index(drop=True)


def segment_view(cmp: Comparison, metric: str | None = None) -> pd.DataFrame:
    """One metric (default: the headline) per segment, for a table: key, segment, n, both
    sides, delta, interval, p (Holm across segments), wins/ties/losses."""
    metric = metric or cmp.manifest.headline_metric
    frame = cmp.segments
    frame = frame[frame["metric"] == metric].drop(columns=["metric", "p_permutation"])
    return frame.rename(columns={"p_holm": "p (Holm)"}).reset_index(drop=True)


def describe_segments(cmp: Comparison, metric: str | None = None, *, alpha: float = 0.05) -> str:
    """One sentence on where the candidate wins or loses, by segment (``""`` without segments).

    E.g. ``"Better overall, worse on language=de queries: nDCG@10 −0.080 [−0.140, −0.020]
    (p_holm=0.004)."``
    """
    metric = metric or cmp.manifest.headline_metric
    if cmp.segments.empty or metric is None or metric not in cmp.deltas.index:
        return ""
    findings = segment_findings(cmp, metric, alpha=alpha)
    overall = cmp.deltas.loc[metric]
    lead = _overall_word(float(overall["delta"]), float(overall["ci_low"]), float(overall["ci_high"]))
    worse = findings[findings["delta"] < 0]
    better = findings[findings["delta"] > 0]
    if worse.empty and better.empty:
        return (
            f"{lead}; no segment differs significantly after Holm across "
            f"{int((cmp.segments['metric'] == metric).sum())} segments ({metric_label(metric)})."
        )
    parts = []
    if not worse.empty:
        parts.append("worse on " + _listed(worse, metric))
    if not better.empty:
        parts.append("better on " + _listed(better.iloc[::-1], metric))
    return f"{lead}, " + "; ".join(parts) + "."


def _listed(rows: pd.DataFrame, metric: str, most: int = 3) -> str:
    """The first ``most`` findings in words, and how many more there are."""
    text = ", ".join(_finding(row, metric) for _, row in rows.head(most).iterrows())
    more = len(rows) - most
    return text + (f" (and {more} more segment{'s' if more > 1 else ''})" if more > 0 else "")


def _overall_word(delta: float, low: float, high: float) -> str:
    if low > 0:
        return "Better overall"
    if high < 0:
        return "Worse overall"
    return f"No significant difference overall ({delta:+.3f})"


def _finding(row: pd.Series, metric: str) -> str:
    interval = ""
    if math.isfinite(row["ci_low"]) and math.isfinite(row["ci_high"]):
        interval = f" [{_signed(row['ci_low'])}, {_signed(row['ci_high'])}]"
    p = "<0.001" if row["p_holm"] < 0.001 else f"={row['p_holm']:.3f}"
    return (
        f"{row['key']}={row['segment']} queries: {metric_label(metric)} {_signed(row['delta'])}{interval} "
        f"(n={int(row['n'])}, p_holm{p})"
    )


def _signed(value: float) -> str:
    """``-0.08`` as ``−0.080`` (a real minus sign), ``+0.020`` with its plus."""
    return f"{value:+.3f}".replace("-", "−")
