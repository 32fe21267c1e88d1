"""Segment guard rails: the primary metric held to a margin on named segments of the queries.

``gate.toml``'s ``segments = { language = "de" }`` asks that the candidate is not worse on the
German queries by more than ``segment_margin``: each named segment's 95% interval of the
primary metric (:attr:`workbench.store.comparisons.Comparison.segments`) is read like the
primary check — pass when its low end is at least ``-segment_margin``, fail when its high end
is below it, undecided otherwise (judge more queries of that segment).
"""

from __future__ import annotations

import math

import pandas as pd

from workbench.gate.config import GateConfig
from workbench.gate.verdict import GateCheck

__all__ = ["segment_checks"]


def segment_checks(
    config: GateConfig, segments: pd.DataFrame, *, comparison_id: str | None = None
) -> list[GateCheck]:
    """One check per guarded (key, value) of ``config.segments``, on the primary metric.

    Args:
        config: The gate.
        segments: The comparison's per-segment statistics (key, segment, metric, n, delta,
            ci_low, ci_high, …).
        comparison_id: Named in the message when a segment is missing.
    """
    return [_check(config, segments, key, value, comparison_id) for key, value in config.guarded_segments]


def _check(
    config: GateConfig, segments: pd.DataFrame, key: str, value: str, comparison_id: str | None
) -> GateCheck:
    metric, floor = config.primary, -config.segment_margin
    name = f"segment {key}={value}"
    found = segments[
        (segments["key"] == key) & (segments["segment"] == value) & (segments["metric"] == metric)
    ]
    if found.empty:
        there = sorted({f"{k}={v}" for k, v in zip(segments["key"], segments["segment"], strict=True)})
        return GateCheck(
            name=name,
            outcome="undecided",
            detail=f"{metric} on segment {key}={value}: not in comparison {comparison_id} (segments: "
            f"{', '.join(there) or 'none'}); give the eval set's queries metadata.{key} and "
            "rerun `workbench compare`",
        )
    row = found.iloc[0]
    delta, low, high, n = float(row["delta"]), float(row["ci_low"]), float(row["ci_high"]), int(row["n"])
    interval = f"{metric} on {key}={value} ({n} queries) {delta:+.4f}, 95% interval [{low:+.4f}, {high:+.4f}]"
    if math.isfinite(low) and low >= floor:
        return GateCheck(name=name, outcome="pass", detail=f"{interval}: not worse by more than {-floor:.4f}")
    if high < floor:
        return GateCheck(
            name=name,
            outcome="fail",
            detail=f"{interval}: worse by more than the segment margin {-floor:.4f}",
        )
    return GateCheck(
        name=name,
        outcome="undecided",
        detail=f"{interval}: not shown within the segment margin {-floor:.4f} either way; judge more "
        f"queries with {key}={value}",
    )
