"""Segment guard rails: ``segments = { language = "de" }`` holds the primary metric on that segment."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from workbench.errors import InvalidArgumentError
from workbench.gate.config import GateConfig
from workbench.gate.segments import segment_checks
from workbench.gate.verdict import combine
from workbench.metrics.segments import SEGMENT_COLUMNS
from workbench.store.comparisons import load_comparison
from workbench.store.workspace import Workspace


def _segments(*rows: tuple[str, str, float, float, float]) -> pd.DataFrame:
    """(key, segment, delta, ci_low, ci_high) rows of ndcg@10 with n=12."""
    records = [
        {"key": k, "segment": s, "metric": "ndcg@10", "n": 12, "delta": d, "ci_low": lo, "ci_high": hi}
        for k, s, d, lo, hi in rows
    ]
    return pd.DataFrame(records).reindex(columns=SEGMENT_COLUMNS)


@pytest.mark.parametrize(
    ("row", "outcome"),
    [
        ((0.01, -0.03, 0.05), "pass"),  # within the default 0.05 margin
        ((-0.55, -0.79, -0.31), "fail"),  # shown worse by more than the margin
        ((-0.04, -0.2, 0.1), "undecided"),
        ((0.3, -math.inf, math.inf), "undecided"),
    ],
)
def test_a_guarded_segment_reads_like_the_primary_check(
    row: tuple[float, float, float], outcome: str
) -> None:
    gate = GateConfig(segments={"language": "de"})
    frame = _segments(("language", "de", *row), ("language", "en", -0.5, -0.6, -0.4))
    (check,) = segment_checks(gate, frame, comparison_id="cmp-1")
    assert (check.name, check.outcome) == ("segment language=de", outcome)
    assert "ndcg@10 on language=de (12 queries)" in check.detail


def test_a_list_of_values_and_a_missing_segment() -> None:
    gate = GateConfig(segments={"language": ["de", "fr"]}, segment_margin=0.1)
    checks = segment_checks(gate, _segments(("language", "de", -0.05, -0.09, 0.0)), comparison_id="cmp-1")
    assert [c.outcome for c in checks] == ["pass", "undecided"]
    assert (
        "not in comparison cmp-1 (segments: language=de); give the eval set's queries metadata.language"
        in (checks[1].detail)
    )
    assert combine(checks)[0] == "INCONCLUSIVE"  # a guard rail that cannot be read never lets GO through


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"segment_margin": -0.1}, r"segment_margin must be a finite number >= 0"),
        ({"segments": {"language": []}}, r"gate segments: 'language' needs a segment value"),
    ],
)
def test_bad_segment_settings_are_refused(settings: dict, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        GateConfig(**settings)


def test_the_gate_reads_the_stored_comparisons_segments(compared_ws: Workspace, comparison_id: str) -> None:
    from workbench.production.promote import check_gate

    cmp = load_comparison(compared_ws, comparison_id)
    ndcg = cmp.segments[(cmp.segments["metric"] == "ndcg@10") & (cmp.segments["key"] == "length")]
    first = str(ndcg.iloc[0]["segment"])
    gate = GateConfig(segments={"length": first})
    result = check_gate(compared_ws, "demo", cmp.manifest.candidate_column, comparison=cmp, gate=gate)
    check = next(c for c in result.checks if c.name == f"segment length={first}")
    assert check.outcome == "pass" and result.verdict == "GO"
