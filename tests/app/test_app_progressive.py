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


@pytest.mark.slow
def test_monitor_shows_a_progressive_columns_coverage_and_its_serving(
    demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_embedder, old_embedder
) -> None:
    from tests.progressive_helpers import small_progressive_ws
    from workbench.demo import DEMO_TABLE, NEW_MODEL
    from workbench.embedding.progressive import embed_progressive
    from workbench.monitoring.monitor import monitor
    from workbench.production.rollout import start_progressive

    ws = small_progressive_ws(demo_template, tmp_path / "ws", rows=60)
    embed_progressive(
        ws, DEMO_TABLE, ws.model(NEW_MODEL), embedder=new_embedder, budget_rows=15, batch_size=15
    )
    monitor(ws, DEMO_TABLE, embedder=old_embedder, maintenance=False)
    start_progressive(ws, DEMO_TABLE, NEW_MODEL)
    at = _start(ws, monkeypatch, "monitor")
    texts = [p.proto.text for p in at.get("progress")]
    assert any("15 of 60 rows (25%)" in t and "served by transition search" in t for t in texts), texts
