"""Reruns read nothing: the Compare and Workspace pages serve their lists from version-keyed caches.

Every widget click reruns the whole page, so a list read from LanceDB on each run (stored
comparisons, eval sets, the promotion history, canary checks) is a scan per click. The app
keys those reads by the version of the table they come from: a rerun reads nothing, a write —
from the app or from another process — is seen on the next run. The counting wrapper below
sees every Lance scan the page makes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lance.dataset import LanceDataset
from lancedb.table import LanceTable
from streamlit.testing.v1 import AppTest

from workbench.comparison.judging import add_judgements
from workbench.comparison.run import compare
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.store.comparisons import load_comparison
from workbench.store.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
READS = {
    LanceDataset: ("to_table", "to_batches", "scanner", "take", "count_rows"),
    LanceTable: ("to_arrow", "to_pandas", "search", "count_rows", "take_offsets"),
}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every Lance read from now on, as (method, columns asked for)."""
    seen: list[tuple[str, Any]] = []

    def counting(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def read(self: object, *args: Any, **kwargs: Any) -> Any:
            seen.append((name, kwargs.get("columns")))
            return original(self, *args, **kwargs)

        return read

    for cls, methods in READS.items():
        for method in methods:
            original = getattr(cls, method)
            monkeypatch.setattr(cls, method, counting(f"{cls.__name__}.{method}", original))
    return seen


def app_at(ws: Workspace, page: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("WORKBENCH_WORKSPACE", ws.uri)
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page", ["pages/compare.py", "app.py"])
def test_a_rerun_reads_nothing_from_lancedb(
    compared_ws: Workspace, page: str, reads: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app_at(compared_ws, page, monkeypatch)
    at.run()  # the Compare page writes the open comparison into the URL on its first run
    reads.clear()
    at.run()
    assert not at.exception, at.exception
    assert reads == []


def test_another_query_in_the_drilldown_reads_only_its_documents_texts(
    compared_ws: Workspace, comparison_id: str, reads: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app_at(compared_ws, "pages/compare.py", monkeypatch)
    cmp = load_comparison(compared_ws, comparison_id)
    pool = cmp.unjudged(k=10)
    other = next(q for q in pool["query_id"] if q != at.selectbox(key="compare.query").value)
    reads.clear()
    at.selectbox(key="compare.query").set_value(other).run()
    assert not at.exception, at.exception
    assert reads and {tuple(columns or ()) for _, columns in reads} == {("id", "text")}  # no vectors


@pytest.mark.slow
def test_a_write_from_elsewhere_is_seen_on_the_next_rerun(
    compared_ws: Workspace, comparison_id: str, embedders: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app_at(compared_ws, "pages/compare.py", monkeypatch)
    assert len(at.selectbox(key="compare.selected").options) == 1
    fresh = compare(
        compared_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", k=[5], embedders=embedders
    )
    at.run()
    assert not at.exception, at.exception
    assert len(at.selectbox(key="compare.selected").options) == 2
    at.selectbox(key="compare.selected").set_value(fresh.id).run()
    assert not at.exception, at.exception
    assert at.query_params["comparison"] == fresh.id

    at.switch_page("app.py").run()
    sets = next(d.value for d in at.dataframe if "n_judged" in d.value.columns)
    assert sets.set_index("name").loc["demo", "version"] == 1
    pool = load_comparison(compared_ws, comparison_id).unjudged(k=10).head(2)
    labels = {str(q): {str(d): 1} for q, d in zip(pool["query_id"], pool["doc_id"], strict=True)}
    add_judgements(compared_ws, "demo", labels, author="bob")
    at.run()
    assert not at.exception, at.exception
    sets = next(d.value for d in at.dataframe if "n_judged" in d.value.columns)
    assert sets.set_index("name").loc["demo", "version"] == 2
