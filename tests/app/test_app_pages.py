"""Page details an engineer needs: rollback reason, model names in messages, the initial production."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.comparison.run import compare
from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL, demo_data_dir
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.production.history import history
from workbench.store.production import production_column
from workbench.store.workspace import Workspace, open_workspace

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")


def texts(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


def start(ws: Workspace, monkeypatch: pytest.MonkeyPatch, page: str) -> AppTest:
    monkeypatch.setenv("WORKBENCH_WORKSPACE", ws.uri)
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_the_app_runs_without_a_file_watcher() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"


@pytest.mark.slow
def test_rollback_has_its_own_reason_and_messages_name_models(
    demo_ws: Workspace, embedders: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    compare(demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders)
    at = start(demo_ws, monkeypatch, "promote")
    at.text_area(key="promote.reason").input("nDCG@10 up").run()
    at.button(key="promote.start").click().run()
    at.button(key="promote.confirm").click().run()
    assert not at.exception, at.exception
    message = " ".join(texts(at.success))
    assert "all-MiniLM-L6-v2" in message and "vec__" not in message
    assert not at.text_area(key="promote.reason").value  # the promotion's reason is not the next one's
    at.text_area(key="promote.rollback_reason").input("latency regression, incident 42").run()
    at.button(key="promote.rollback").click().run()
    at.button(key="promote.rollback_confirm").click().run()
    assert not at.exception, at.exception
    last = history(demo_ws, DEMO_TABLE)[-1]
    assert (last.action, last.reason) == ("rollback", "latency regression, incident 42")
    assert history(demo_ws, DEMO_TABLE)[-2].reason == "nDCG@10 up"  # the promotion's reason stays its own
    assert "vec__" not in " ".join(texts(at.success))


@pytest.mark.slow
def test_without_production_the_old_model_is_suggested_as_initial(
    tmp_path: Path, embedders: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = open_workspace(tmp_path / "ws")
    ingest(ws, demo_data_dir(), table="corpus", eval_set="corpus")
    for alias in (OLD_MODEL, NEW_MODEL):  # the old model was there first
        ref = ws.model(alias)
        embed(ws, "corpus", ref, embedder=embedders[ref.column])
    at = start(ws, monkeypatch, "promote")
    assert any("usually the *old* model" in i for i in texts(at.info))
    pick = at.selectbox(key="promote.initial_column")
    assert pick.value == ws.model(OLD_MODEL).column
    pick.select(ws.model(NEW_MODEL).column).run()
    assert any("skips the gate" in w for w in texts(at.warning))
    pick.select(ws.model(OLD_MODEL).column).run()
    assert not at.warning
    at.button(key="promote.initial").click().run()
    assert production_column(ws.table("corpus")) == ws.model(OLD_MODEL).column
    assert any("paraphrase-MiniLM-L3-v2" in s and "vec__" not in s for s in texts(at.success))


def test_the_timeline_says_a_rollback_version_is_not_production(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.production.promote import promote, rollback

    promote(demo_ws, DEMO_TABLE, demo_ws.model(NEW_MODEL).column, force=True, reason="try it")
    rollback(demo_ws, DEMO_TABLE, reason="back")
    monkeypatch.setenv("WORKBENCH_WORKSPACE", demo_ws.uri)
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    # A rollback moves tags only (it writes no table version): the head is the rolled-back promotion.
    assert metrics["Latest version"] == "5" and metrics["Production"] == "paraphrase-MiniLM-L3-v2 · v4"
    versions = at.dataframe[2].value.set_index("version")  # after the columns and their pins
    assert versions.loc[5, "change"] == "production → all-MiniLM-L6-v2"
    assert versions.loc[5, "production"] != "● production"
    assert versions["production"].tolist().count("● production") == 1
    assert versions.loc[4, "production"] == "● production"
