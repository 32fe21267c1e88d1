"""The app's progressive-migration views: transition search on Live query, the coverage curve on Migrate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.store.workspace import Workspace

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _start(ws: Workspace, monkeypatch: pytest.MonkeyPatch, page: str) -> AppTest:
    monkeypatch.setenv("WORKBENCH_WORKSPACE", ws.uri)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_live_query_transition_toggle_says_which_model_ranked_each_hit(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _start(demo_ws, monkeypatch, "live_query")
    at.text_input(key="live.query").input("how do I undo a commit").run()
    at.toggle(key="live.transition").set_value(True).run()
    assert not at.exception, at.exception
    frame = at.dataframe[0].value
    assert list(frame.columns)[:4] == ["rank", "id", "title", "model"]
    assert set(frame["model"]) == {"new"}  # the demo's new column is whole: 100 % coverage
    assert "100%" in [m.value for m in at.metric]


@pytest.mark.slow
def test_migrate_plots_quality_against_coverage(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _start(demo_ws, monkeypatch, "migrate")
    at.button(key="migrate.curve").click().run()
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    assert charts
    spec = json.loads(charts[0].proto.spec)
    assert len(spec["data"]) == 6 and "coverage" in spec["layout"]["xaxis"]["title"]["text"]
    assert any("First coverage beating the old column" in c.value for c in at.caption)
