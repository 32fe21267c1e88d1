"""The Promote page's serving section: start a canary, see it, bad input refused, shadow evidence, abort."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.app.test_app_pages import start, texts
from workbench.demo import NEW_MODEL
from workbench.production.rollout import current_rollout, start_shadow
from workbench.production.serving import ProductionIndex
from workbench.production.shadow import ShadowLog
from workbench.store.rollouts import rollout_steps
from workbench.store.workspace import Workspace

pytestmark = pytest.mark.slow  # a Streamlit script run per interaction, with models loading


def test_a_canary_started_and_aborted_from_the_app(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(demo_ws, monkeypatch, "promote")
    assert any("Production answers" in m.label for m in at.metric)
    at.radio(key="rollout.mode").set_value("canary").run()
    at.number_input(key="rollout.percent").set_value(10.0).run()
    at.text_input(key="rollout.reason").input("first 10 %").run()
    at.button(key="rollout.start").click().run()
    assert not at.exception, at.exception
    active = current_rollout(demo_ws, "demo")
    assert active is not None and (active.action, active.percent, active.reason) == (
        "canary",
        10.0,
        "first 10 %",
    )
    assert any("10 % of traffic" in str(m.value) for m in at.metric)
    at.button(key="rollout.abort").click().run()
    assert current_rollout(demo_ws, "demo") is None
    assert [s.action for s in rollout_steps(demo_ws, "demo")] == ["canary", "abort"]


def test_shadow_evidence_and_chart_are_shown(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch, embedders
) -> None:
    new = demo_ws.model(NEW_MODEL).column
    step = start_shadow(demo_ws, "demo", new, sample=1.0, embedder=embedders[new])
    production = ProductionIndex.open(demo_ws, "demo")
    candidate = ProductionIndex.at_version(demo_ws, "demo", new, step.version, embedder=embedders[new])
    log = ShadowLog(demo_ws, text="plain")
    start_time = datetime.now(UTC) - timedelta(hours=1)
    for i, query in enumerate(["roll back a model", "vector index recall", "canary texts", "gate verdict"]):
        log.record(
            production.search(query, k=5), candidate.search(query, k=5), k=5, rollout=step.seq,
            production_ms=3.0, candidate_ms=4.0, at=start_time + timedelta(minutes=i),
        )  # fmt: skip
    log.flush()
    at = start(demo_ws, monkeypatch, "promote")
    assert not at.exception, at.exception
    shown = " ".join(texts(at.markdown))
    assert "Shadow evidence" in shown and "on 4 live queries" in shown
    assert any("shadowed" in str(m.value) for m in at.metric)


def test_a_bad_rollout_is_an_error_with_nothing_written(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(demo_ws, monkeypatch, "promote")
    table = demo_ws.table("demo")
    first = table.search().limit(1).select(["id"]).to_list()[0]["id"]
    table.update(where=f"id = '{first}'", values={"content_hash": "changed outside the workbench"})
    at.radio(key="rollout.mode").set_value("canary").run()
    at.button(key="rollout.start").click().run()
    assert any("Rollout canary failed" in e.value and "outdated text" in e.value for e in at.error)
    assert rollout_steps(demo_ws, "demo") == []
