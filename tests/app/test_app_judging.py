"""The Compare page: judged@k, judging unjudged documents, re-run, shareable URLs, click-through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.comparison.run import compare
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.store.comparisons import list_comparisons, load_comparison
from workbench.store.evalsets import eval_set_versions, load_eval_set
from workbench.store.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")


def texts(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


def open_compare(ws: Workspace, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("WORKBENCH_WORKSPACE", ws.uri)
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("pages/compare.py").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def compared(demo_ws: Workspace, embedders: dict) -> tuple[Workspace, str]:
    cmp = compare(demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders)
    return demo_ws, cmp.id


@pytest.mark.slow
def test_judge_two_documents_then_rerun_on_the_new_eval_set_version(
    compared: tuple[Workspace, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, cmp_id = compared
    cmp = load_comparison(ws, cmp_id)
    pool = cmp.unjudged(k=10)
    qid = str(pool["query_id"].value_counts().index[0])  # the query with most unjudged documents
    docs = pool[pool["query_id"] == qid]["doc_id"].tolist()
    at = open_compare(ws, monkeypatch, comparison=cmp_id, query=qid)
    assert at.selectbox(key="compare.query").value == qid  # the URL opened this query
    judged = next(d.value for d in at.dataframe if "Gap" in d.value.columns or "gap" in d.value.columns)
    assert list(judged["k"]) == [10, 100]
    tiles = {m.label: m.value for m in at.metric}
    assert "Judged@10" in tiles and "Better / worse" in tiles
    assert any(f"Judge the {len(docs)} unjudged document(s)" in e.label for e in at.expander)
    # the full text of each document is there to read
    full = ws.table("demo").to_lance().to_table(filter=f"id = '{docs[0]}'").column("text")[0].as_py()
    assert full in texts(at.text)

    at.segmented_control(key=f"judge.{cmp_id}.{qid}.{docs[0]}").set_value(2)
    at.segmented_control(key=f"judge.{cmp_id}.{qid}.{docs[1]}").set_value(0)
    at.text_input(key="judge.author").input("alice").run()
    save = at.button(key="judge.save")
    assert save.label == "Save 2 judgement(s)"
    save.click().run()
    assert not at.exception, at.exception
    assert any("v2: 2 new and 0 changed judgement(s)" in s for s in texts(at.success))
    latest = load_eval_set(ws, "demo")
    assert latest.qrels[qid][docs[0]] == 2 and latest.qrels[qid][docs[1]] == 0
    assert eval_set_versions(ws, "demo")[-1]["author"] == "alice"

    rerun = at.button(key="judge.rerun")
    assert rerun.label == "Re-run this comparison on demo v2"
    rerun.click().run()
    assert not at.exception, at.exception
    stored = list_comparisons(ws)
    assert len(stored) == 2
    fresh = load_comparison(ws, stored["id"].iloc[-1])
    assert fresh.manifest.eval_set_hash == latest.content_hash != cmp.manifest.eval_set_hash
    assert at.selectbox(key="compare.selected").value == fresh.id
    assert at.query_params["comparison"] == fresh.id


def test_the_metrics_tab_shows_three_decimals_and_full_tiles(
    compared: tuple[Workspace, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, _ = compared
    at = open_compare(ws, monkeypatch)
    tiles = {m.label: m for m in at.metric}
    better = tiles["Better / worse"]
    assert "/" in better.value and len(better.value) <= 9  # fits the tile
    assert better.proto.delta.endswith("tied")
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    ecdf = next(c for c in charts if "ECDF" in c["layout"]["title"]["text"])
    assert all(t["type"] == "scatter" for t in ecdf["data"])
    assert {t["line"]["color"] for t in ecdf["data"]} == {"#0072B2", "#E69F00"}  # Okabe-Ito
    assert all("AUC" in a["text"] for a in ecdf["layout"]["annotations"])
    assert any(m.label.startswith("Separation AUC") for m in at.metric)


def test_a_selected_row_of_the_moved_table_opens_its_drilldown(
    compared: tuple[Workspace, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, cmp_id = compared
    cmp = load_comparison(ws, cmp_id)
    at = open_compare(ws, monkeypatch)
    moved = cmp.per_query.sort_values(["rbo", "query_id"]).head(10).reset_index(drop=True)
    at.session_state[f"compare.moved.{cmp_id}"] = {"selection": {"rows": [3], "columns": []}}
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="compare.query").value == moved["query_id"].iloc[3]
    assert at.query_params["query"] == moved["query_id"].iloc[3]
    # the table keeps its selection: a query chosen since in the drill-down is not taken back
    other = next(q for q in cmp.per_query["query_id"] if q != moved["query_id"].iloc[3])
    at.selectbox(key="compare.query").set_value(other).run()
    assert at.selectbox(key="compare.query").value == other and at.query_params["query"] == other


def test_the_per_query_chart_is_clickable_and_its_points_are_query_ids(
    compared: tuple[Workspace, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The click itself needs a browser (test_browser.py): AppTest cannot send a chart selection."""
    ws, cmp_id = compared
    at = open_compare(ws, monkeypatch)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    scatter = next(c for c in charts if c["layout"]["title"]["text"].startswith("Per query"))
    assert scatter["layout"]["clickmode"] == "event+select"
    ids = {data[0] for trace in scatter["data"] for data in trace["customdata"]}
    judged = load_comparison(ws, cmp_id).per_query.dropna(subset=["ndcg@10_delta"])
    assert ids == set(judged["query_id"])
    chart = next(c for c in at.get("plotly_chart") if "Per query" in c.proto.spec)
    assert list(chart.proto.selection_mode) == [0]  # points


@pytest.mark.slow
def test_a_link_opens_that_comparison_at_that_query(
    compared: tuple[Workspace, str], embedders: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, older = compared
    newer = compare(
        ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", k=[5], embedders=embedders
    ).id
    qid = str(load_comparison(ws, older).per_query["query_id"].iloc[7])
    at = open_compare(ws, monkeypatch, comparison=older, query=qid)
    assert at.selectbox(key="compare.selected").value == older != newer  # not the newest
    assert at.selectbox(key="compare.query").value == qid
    assert any(qid in str(m.value) for m in at.markdown)  # the drill-down heading names the query
    # choosing another comparison updates the link
    at.selectbox(key="compare.selected").set_value(newer).run()
    assert not at.exception, at.exception
    assert at.query_params["comparison"] == newer


def test_a_link_to_an_unknown_comparison_says_so_and_shows_the_newest(
    compared: tuple[Workspace, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, cmp_id = compared
    at = open_compare(ws, monkeypatch, comparison="cmp-gone", query="q01")
    assert any("cmp-gone" in w.value for w in at.warning)
    assert at.selectbox(key="compare.selected").value == cmp_id


def test_after_a_promotion_the_form_defaults_to_the_new_production(
    compared: tuple[Workspace, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.production.promote import promote

    ws, cmp_id = compared
    at = open_compare(ws, monkeypatch)
    assert at.selectbox(key="compare.baseline").value == ws.model(OLD_MODEL).column
    promote(ws, "demo", ws.model(NEW_MODEL).column, comparison=cmp_id, reason="better")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="compare.baseline").value == ws.model(NEW_MODEL).column
