"""The Monitor page: signals over time with the baseline band, alarm markers, promotion events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.app.test_app import start
from workbench.contract import content_hash
from workbench.demo import NEW_MODEL
from workbench.models.catalog import CATALOG
from workbench.monitoring.monitor import monitor
from workbench.monitoring.view import PALETTE, _event_levels, monitor_frame, promoting_comparison
from workbench.production.promote import promote
from workbench.store.monitor_runs import list_monitor_runs
from workbench.store.workspace import Workspace

NEW = CATALOG[NEW_MODEL].column


@pytest.mark.slow
def test_monitor_page_shows_series_band_alarms_and_the_promoting_comparison(
    compared_ws: Workspace, comparison_id: str, new_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    at = start(compared_ws, monkeypatch, "monitor")
    assert any("No monitoring pass of this table yet" in str(i.value) for i in at.info)
    moment = datetime.now(UTC) + timedelta(minutes=1)
    for hours in (1, 2):
        monitor(compared_ws, "demo", embedder=new_embedder, now=moment + timedelta(hours=hours))
    table = compared_ws.table("demo")
    text = "Rewritten upstream, never re-embedded."
    table.update(where="id = 'd0009'", values={"text": text, "content_hash": content_hash("", text)})
    alarmed = monitor(compared_ws, "demo", embedder=new_embedder, now=moment + timedelta(hours=3))
    assert alarmed.verdict == "alarm"

    at = start(compared_ws, monkeypatch, "monitor")
    assert not at.exception
    assert any("integrity:" in str(e.value) and "stale" in str(e.value) for e in at.error)
    assert any(m.label == "Last pass" and "#3: ALARM" in str(m.value) for m in at.metric)
    assert at.session_state["compare.selected"] == comparison_id
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in chart["data"]]
    assert "ndcg@10" in names and "top-1 score" in names and "stale rows" in names and "missing rows" in names
    stale_alarm = next(t for t in chart["data"] if t.get("name") == "alarm: stale rows")
    assert len(stale_alarm["x"]) == 1  # one alarm marker, on pass 3
    lines = [t for t in chart["data"] if t.get("mode") == "lines+markers"]
    colours = [t["line"]["color"] for t in lines]
    assert len(set(colours)) == len(colours) and set(colours) <= set(PALETTE)  # distinct, colour-blind-safe
    layout = chart["layout"]
    integrity = layout[f"yaxis{len([a for a in layout if a.startswith('yaxis')])}"]
    assert integrity["tickformat"] == ",d" and integrity["dtick"] >= 1  # counts: an integer axis
    assert integrity["range"][0] <= 0 < 1 <= integrity["range"][1]
    shapes = layout["shapes"]
    assert any(s.get("type") == "rect" and s.get("fillcolor") in PALETTE for s in shapes)  # the baseline band
    assert any(s.get("line", {}).get("dash") == "dot" for s in shapes)  # production moves
    frame = monitor_frame(list_monitor_runs(compared_ws, "demo"))
    assert set(frame["seq"]) == {1, 2, 3}
    assert promoting_comparison([], NEW) is None


def test_close_production_moves_get_their_own_label_rows() -> None:
    """Labels of moves close in time are staggered (no "promotibaack"); far ones share the first row."""
    from workbench.production.history import PromotionRecord

    start = datetime(2026, 1, 1, tzinfo=UTC)

    def move(action: str, minutes: float) -> PromotionRecord:
        at = (start + timedelta(minutes=minutes)).isoformat()
        return PromotionRecord("demo", 1, action, at, "me", None, None, None, None)  # type: ignore[arg-type]

    frame = monitor_frame([])
    events = [move("promote", 0), move("rollback", 1), move("promote", 2), move("promote", 100)]
    assert _event_levels(events, frame) == [0, 1, 2, 0]


@pytest.mark.slow
def test_monitor_page_shows_the_sunset_of_production_s_model(
    demo_ws: Workspace, old_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.demo import OLD_MODEL

    now = datetime.now(UTC)
    demo_ws.update_model(OLD_MODEL, sunset=(now + timedelta(days=30)).date())
    monitor(demo_ws, "demo", embedder=old_embedder, now=now, maintenance=False)
    at = start(demo_ws, monkeypatch, "monitor")
    assert not at.exception, at.exception
    assert any(str(e.value).startswith(f"Sunset: {OLD_MODEL} (") for e in at.error)
    assert any("No candidate watch yet" in str(c.value) for c in at.caption)
