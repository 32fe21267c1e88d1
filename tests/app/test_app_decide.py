"""The Decide page (AppTest on a real demo copy): leaderboard with a recommendation, Matryoshka curve."""

from __future__ import annotations

import base64
import json
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
    assert len(rows) == 2 and {"ndcg@10", "ndcg@10_ci_low", "bytes_per_vector", "query_ms"} <= set(
        rows.columns
    )
    pairs = at.dataframe[1].value
    assert {"p", "p_holm", "significant"} <= set(pairs.columns)
    advice = [e.value for e in (*at.success, *at.info)]
    assert any(text.startswith(("Migrate to", "Stay put")) for text in advice)
    at.selectbox(key="decide.sweep_column").select(CATALOG[NEW_MODEL].column)
    at.multiselect(key="decide.dims").set_value([32, 128])
    at.button[1].click().run()  # "Sweep"
    assert not at.exception, at.exception
    points = at.dataframe[2].value
    assert points["dim"].tolist() == [32, 128, 384]
    x = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["x"]
    if isinstance(x, dict):  # plotly 6 sends arrays as typed base64
        x = np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]).tolist()
    assert list(x) == [128, 512, 1536]
