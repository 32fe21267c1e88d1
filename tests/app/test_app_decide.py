"""The Decide page (AppTest on a real demo copy): leaderboard with a recommendation, Matryoshka curve."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from workbench.demo import NEW_MODEL
from workbench.models.catalog import CATALOG
from workbench.store.workspace import Workspace

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.mark.slow
def test_decide_page_ranks_candidates_and_sweeps(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_WORKSPACE", demo_ws.uri)
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page("pages/decide.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Decide"
    at.button[0].click().run()  # "Rank candidates"
    assert not at.exception, at.exception
    rows = at.dataframe[0].value
    assert len(rows) == 2 and {"Model", "nDCG@10 (95% CI)", "Bytes / vector", "Query ms"} <= set(rows.columns)
    assert set(rows["Model"]) == {
        "minilm-l3 · paraphrase-MiniLM-L3-v2 · production",
        "minilm-l6 · all-MiniLM-L6-v2",
    }
    assert all(re.fullmatch(r"0\.\d{3} \[0\.\d{3}, [01]\.\d{3}\]", cell) for cell in rows["nDCG@10 (95% CI)"])
    pairs = at.dataframe[1].value
    assert list(pairs.columns) == ["Pair", "Metric", "Δ (95% CI)", "p", "p (Holm)", "Significant"]
    assert all(cell.startswith(("+", "-")) and "-0.000" not in cell for cell in pairs["Δ (95% CI)"])
    advice = [e.value for e in (*at.success, *at.info)]
    assert any(text.startswith(("Migrate to", "Stay put")) for text in advice)
    assert not any("vec__" in text for text in advice)  # the model's name, not its column id
    assert any("minilm-l6 (all-MiniLM-L6-v2)" in text for text in advice)
    assert any("not a known Matryoshka-trained model" in c.value for c in at.caption)
    at.selectbox(key="decide.sweep_column").select(CATALOG[NEW_MODEL].column)
    at.multiselect(key="decide.dims").set_value([32, 128])
    at.button[1].click().run()  # "Sweep"
    assert not at.exception, at.exception
    points = at.dataframe[2].value
    assert points["Dimensions"].tolist() == [32, 128, 384]
    assert points["Δ vs full"].iloc[-1] == 0.0 and str(points["Δ vs full"].iloc[-1]) == "0.0"  # not -0.0
    x = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["x"]
    if isinstance(x, dict):  # plotly 6 sends arrays as typed base64
        x = np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]).tolist()
    assert list(x) == [128, 512, 1536]


@pytest.mark.slow
def test_decide_page_re_evaluates_the_candidates_and_shows_the_watch(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.store.candidate_watch import list_watches

    monkeypatch.setenv("WORKBENCH_WORKSPACE", demo_ws.uri)
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page("pages/decide.py").run()
    assert any("No watch yet" in str(c.value) for c in at.caption)
    at.button(key="decide.watch").click().run()
    assert not at.exception, at.exception
    (watch,) = list_watches(demo_ws, "demo")
    shown = [str(e.value) for e in (*at.warning, *at.info)]
    assert any(f"on demo: {watch.summary}" in text for text in shown)
    assert at.dataframe[-1].value["label"].tolist() == [NEW_MODEL]
