"""The Compare page shows the headline metric per segment and filters the drill-down by segment."""

from __future__ import annotations

import pytest

from tests.app.test_app import start, texts
from workbench.metrics.segments import segment_column
from workbench.store.comparisons import load_comparison
from workbench.store.workspace import Workspace


@pytest.mark.slow
def test_segment_table_and_drilldown_filter(
    compared_ws: Workspace, comparison_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cmp = load_comparison(compared_ws, comparison_id)
    at = start(compared_ws, monkeypatch, "compare")
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "segment" in d.value.columns)
    assert set(table["key"]) == {"length", "baseline_score"}
    assert any(md.startswith("Better overall") for md in texts(at.markdown))
    every = at.selectbox(key="compare.query").options
    segment = at.selectbox(key="compare.segment")
    picked = next(o for o in segment.options if o.startswith("length="))
    segment.set_value(picked).run()
    assert not at.exception, at.exception
    value = picked.partition("=")[2]
    expected = cmp.per_query[cmp.per_query[segment_column("length")] == value]
    assert len(at.selectbox(key="compare.query").options) == len(expected) < len(every)
