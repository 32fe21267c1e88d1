"""The Streamlit app, page by page, with ``streamlit.testing.v1.AppTest`` on real demo workspaces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.comparison.report import render_csv, render_json, render_markdown
from workbench.comparison.run import compare
from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL, demo_data_dir, demo_ready
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.models.catalog import L6_PACKAGE
from workbench.models.sources.package import package_model_dir
from workbench.production.history import history
from workbench.retrieval.encode import encode_queries
from workbench.retrieval.exact import search_column
from workbench.store.comparisons import list_comparisons
from workbench.store.production import production_column
from workbench.store.workspace import Workspace, open_workspace

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
CORPUS = "corpus"


def start(ws: Workspace | Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None) -> AppTest:
    """Run the app on ``ws`` (through the env var, as a user would) and open ``page``."""
    monkeypatch.setenv("WORKBENCH_WORKSPACE", ws.uri if isinstance(ws, Workspace) else str(ws))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
    return at


def texts(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


@pytest.fixture
def compared(demo_ws: Workspace, embedders: dict) -> Workspace:
    """The demo copy with one stored comparison, old model (production) vs new."""
    compare(demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders)
    return demo_ws


# --- the library stays streamlit-free ------------------------------------------------------


@pytest.mark.slow
def test_library_does_not_import_streamlit() -> None:
    code = "import sys, workbench, workbench.comparison.run, workbench.production.promote, workbench.comparison.report; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- Workspace ---------------------------------------------------------------------------------


def test_workspace_page_shows_columns_pins_production_and_versions(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(demo_ws, monkeypatch)
    assert texts(at.title) == ["Workspace · demo"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Documents"] == "432"
    assert metrics["Vector columns"] == "2"
    assert metrics["Production"] == "paraphrase-MiniLM-L3-v2 · v4"
    columns = at.dataframe[0].value
    assert set(columns["model"]) == {"paraphrase-MiniLM-L3-v2", "all-MiniLM-L6-v2"}
    assert set(columns["dim"]) == {384}
    assert (columns["health"] == "✓ complete").all()
    assert (columns["ann"] == "none (exact search)").all()  # the demo has no ANN index
    assert "name" not in columns and "fingerprint" not in columns  # pins: in their expander
    pins = at.dataframe[1].value
    prod = pins[pins["role"].str.contains("production")]
    assert prod["name"].tolist() == [demo_ws.model(OLD_MODEL).column]
    versions = at.dataframe[2].value
    assert any("production" in tags for tags in versions["tags"])
    assert any("candidate: all_minilm_l6_v2" in tags for tags in versions["tags"])
    assert versions["change"].tolist() == [  # column names shown as their models' names
        "production → paraphrase-MiniLM-L3-v2",
        "added column all-MiniLM-L6-v2",
        "added column paraphrase-MiniLM-L3-v2",
        "created: 432 rows",
    ]
    audit = at.table[-1].value  # a static table: its cells wrap, never cut
    assert audit["Gate"].tolist() == ["initial (no gate)"]


def test_workspace_page_is_never_stale_after_a_new_version(
    compared: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(compared, monkeypatch)
    before = {m.label: m.value for m in at.metric}
    from workbench.production.promote import promote

    cmp_id = list_comparisons(compared)["id"].iloc[-1]
    promote(compared, DEMO_TABLE, NEW_MODEL, comparison=cmp_id)
    at.run()
    after = {m.label: m.value for m in at.metric}
    assert int(after["Latest version"]) > int(before["Latest version"])
    assert after["Production"].startswith("all-MiniLM-L6-v2 · v")


@pytest.mark.slow
def test_first_start_builds_the_demo_with_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the default workspace (./workspace, no WORKBENCH_WORKSPACE) gets the demo unasked.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_WORKSPACE", raising=False)
    # Builds the whole demo (ingest, two embeddings, a stored comparison) inside one script run.
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception, at.exception
    assert demo_ready(open_workspace(tmp_path / "workspace"))
    assert texts(at.title) == ["Workspace · demo"]


def test_a_missing_sidebar_workspace_is_not_created_silently(
    demo_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as if typed into the sidebar's field before the first run
    monkeypatch.setenv("WORKBENCH_WORKSPACE", demo_ws.uri)
    missing = tmp_path / "typo"
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["app.workspace_uri"] = str(missing)
    at.run()
    assert not at.exception
    assert any("No folder" in w for w in texts(at.sidebar.warning))
    assert [b.label for b in at.sidebar.button] == ["Create an empty workspace", "Create it with the demo"]
    assert not missing.exists()
    at.switch_page("pages/compare.py").run()
    assert not missing.exists()


# --- Migrate -----------------------------------------------------------------------------------


@pytest.fixture
def ingested(tmp_path: Path) -> Workspace:
    """The demo corpus and eval set in a table ``corpus``, without any vector column yet.

    (Named ``demo`` it would look like an interrupted demo build, which the app resumes.)
    """
    ws = open_workspace(tmp_path / "ingested")
    ingest(ws, demo_data_dir(), table=CORPUS, eval_set=CORPUS)
    return ws


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_migrate_embeds_and_resumes_an_interrupted_run(
    ingested: Workspace, embedders: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = ingested.model(NEW_MODEL)

    def stop_after_first_batch(done: int, total: int) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        embed(
            ingested,
            CORPUS,
            ref,
            embedder=embedders[ref.column],
            batch_size=128,
            on_progress=stop_after_first_batch,
        )
    assert ref.column not in ingested.table(CORPUS).schema.names

    at = start(ingested, monkeypatch, "migrate")
    at.selectbox(key="migrate.alias").select(NEW_MODEL).run()
    resume = at.button(key="migrate.start")
    assert resume.label == "Resume (128 of 432 rows done)"
    assert any("128 of 432" in i for i in texts(at.info))
    assert not at.select_slider  # the checkpoints fix the batch size: the resume reuses 128
    resume.click().run()
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    message = " ".join(texts(at.success))
    assert "resumed after 128 rows" in message
    assert ref.column in ingested.table(CORPUS).schema.names
    assert at.button(key="migrate.start").disabled  # the column exists now


def test_migrate_bad_input_shows_an_error_and_writes_nothing(
    demo_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = len(demo_ws.table(DEMO_TABLE).list_versions())
    tables = demo_ws.table_names(include_internal=True)
    at = start(demo_ws, monkeypatch, "migrate")

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "a", "text": "fine"}\n{"_id": "a", "text": "duplicate id"}\n')
    at.radio(key="migrate.source").set_value("Path on the server").run()
    at.text_input(key="migrate.ingest_path").input(str(bad))
    at.text_input(key="migrate.ingest_table").input(DEMO_TABLE)
    at.button(key="migrate.validate").click().run()
    assert any("duplicate id" in e for e in texts(at.error))

    at.text_input(key="migrate.pin_path").input(str(package_model_dir(L6_PACKAGE)))
    at.text_input(key="migrate.pin_alias").input("unsafe")
    at.text_input(key="migrate.pin_revision").input("latest")
    pin_submit = next(b for b in at.button if b.label == "Pin model")
    pin_submit.click().run()
    assert any("not a pin" in e for e in texts(at.error))

    assert len(demo_ws.table(DEMO_TABLE).list_versions()) == versions
    assert demo_ws.table_names(include_internal=True) == tables
    assert "unsafe" not in open_workspace(demo_ws.uri).config.models


# --- Compare -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_compare_runs_and_shows_summary_metrics_charts_and_drilldown(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(demo_ws, monkeypatch, "compare")
    assert any("No comparison" in i for i in texts(at.info))
    at.multiselect(key="compare.k").set_value([10, 100])
    next(b for b in at.button if b.label == "Run comparison").click().run()
    assert not at.exception, at.exception
    stored = list_comparisons(demo_ws)
    assert len(stored) == 1
    assert any(stored["summary"].iloc[0] in md for md in texts(at.markdown))

    metrics = at.dataframe[0].value
    assert {"ndcg@10", "recall@100"} <= set(metrics["metric"])
    assert {"ci", "p_ttest", "p_permutation"} <= set(metrics.columns)

    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = [c["layout"]["title"]["text"] for c in charts]
    assert any(t.startswith("Candidate − baseline per metric") for t in titles)
    assert any(t.startswith("Rank shift in the top 10") for t in titles)
    overlay = next(c for c in charts if "both models overlaid" in c["layout"]["title"]["text"])
    assert [t["name"] for t in overlay["data"]] == ["baseline: minilm-l3", "candidate: minilm-l6"]
    assert all("xaxis" not in t or t["xaxis"] == "x" for t in overlay["data"])  # one panel
    split = next(c for c in charts if "relevant vs non-relevant" in c["layout"]["title"]["text"])
    assert {"relevant", "non-relevant"} <= {t["name"] for t in split["data"]}

    # worst regressions first: the default drill-down query has the lowest nDCG@10 delta
    cmp_per_query = list_comparisons(demo_ws)
    assert len(cmp_per_query) == 1
    query = at.selectbox(key="compare.query")
    first = query.options[0]
    assert "ndcg@10 -" in first
    query.select_index(3).run()
    assert not at.exception
    side_by_side = [d.value for d in at.dataframe if "Δ" in d.value.columns or "Candidate" in d.value.columns]
    baseline_top, candidate_top = side_by_side[-2], side_by_side[-1]
    assert len(baseline_top) == len(candidate_top) == 10
    assert candidate_top["Δ"].str.match(r"^(▲ \d+|▼ \d+|=|✚ new|✚ from #\d+)$").all()


def test_compare_refuses_bad_input_with_an_error(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    at = start(demo_ws, monkeypatch, "compare")
    at.selectbox(key="compare.candidate").select(demo_ws.model(OLD_MODEL).column)
    next(b for b in at.button if b.label == "Run comparison").click().run()
    assert any("same column" in e for e in texts(at.error))
    assert list_comparisons(demo_ws).empty


def test_pages_needing_two_columns_stop_with_a_hint(
    ingested: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    for page in ("compare", "live_query"):
        at = start(ingested, monkeypatch, page)
        assert any("two vector columns" in i for i in texts(at.info)), page


# --- Live query --------------------------------------------------------------------------------


def test_live_query_encodes_each_side_with_its_own_model(
    demo_ws: Workspace, embedders: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(demo_ws, monkeypatch, "live_query")
    assert any("Type a query" in i for i in texts(at.info))
    query = "how do I undo my last commit"
    at.text_input(key="live.query").input(query).run()
    assert not at.exception, at.exception
    baseline_view, candidate_view = at.dataframe[0].value, at.dataframe[1].value
    assert len(baseline_view) == len(candidate_view) == 10

    table = demo_ws.table(DEMO_TABLE)
    titles = table.to_pandas().set_index("id")["title"]
    for alias, view in ((OLD_MODEL, baseline_view), (NEW_MODEL, candidate_view)):
        column = demo_ws.resolve_column(table, alias)
        vectors = encode_queries(embedders[column.name], column, [query])
        expected = search_column(table, column.name, vectors, ["q"], k=10)
        assert view["Document"].tolist() == titles.loc[expected["doc_id"]].tolist()
    assert {"Overlap@10", "Rank-biased overlap"} <= {m.label for m in at.metric}


# --- Promote -----------------------------------------------------------------------------------


def test_promote_with_confirmation_then_roll_back(
    compared: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(compared, monkeypatch, "promote")
    assert any("**GO**" in s and "may be promoted" in s for s in texts(at.success))
    table = compared.table(DEMO_TABLE)
    assert production_column(table) == compared.model(OLD_MODEL).column

    at.button(key="promote.start").click().run()
    assert production_column(compared.table(DEMO_TABLE)) == compared.model(OLD_MODEL).column  # not yet
    at.button(key="promote.confirm").click().run()
    assert not at.exception, at.exception
    assert production_column(compared.table(DEMO_TABLE)) == compared.model(NEW_MODEL).column
    assert any("production of 'demo'" in s for s in texts(at.success))
    assert at.table[-1].value["Action"].iloc[0] == "↑ promote"

    at.button(key="promote.rollback").click().run()
    at.button(key="promote.rollback_confirm").click().run()
    assert not at.exception, at.exception
    assert production_column(compared.table(DEMO_TABLE)) == compared.model(OLD_MODEL).column
    assert [r.action for r in history(compared, DEMO_TABLE)] == ["promote", "promote", "rollback"]


@pytest.mark.slow
def test_forced_promotion_asks_for_a_reason(
    demo_ws: Workspace, embedders: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # k=10 only: the default gate also reads recall@100, so this comparison fails the gate
    compare(demo_ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", k=[10], embedders=embedders)
    at = start(demo_ws, monkeypatch, "promote")
    assert any("**NO-GO**" in e and "recall@100: not measured" in e for e in texts(at.error))
    assert at.button(key="promote.start").disabled

    at.toggle(key="promote.force").set_value(True).run()
    at.button(key="promote.start").click().run()
    assert at.button(key="promote.confirm").disabled
    assert any("needs a reason" in w for w in texts(at.warning))

    at.text_area(key="promote.reason").input("recall@100 is not measured on this small set; approved").run()
    at.button(key="promote.confirm").click().run()
    assert not at.exception, at.exception
    last = history(demo_ws, DEMO_TABLE)[-1]
    assert last.forced and last.reason.startswith("recall@100")
    assert production_column(demo_ws.table(DEMO_TABLE)) == demo_ws.model(NEW_MODEL).column


@pytest.mark.slow
def test_first_production_is_one_click_without_a_comparison(
    ingested: Workspace, embedders: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = ingested.model(NEW_MODEL)
    embed(ingested, CORPUS, ref, embedder=embedders[ref.column])
    at = start(ingested, monkeypatch, "promote")
    assert any("no production column yet" in i for i in texts(at.info))
    at.button(key="promote.initial").click().run()
    assert not at.exception, at.exception
    assert production_column(ingested.table(CORPUS)) == ref.column
    assert history(ingested, CORPUS)[-1].initial


# --- Reports -----------------------------------------------------------------------------------


def test_reports_offer_every_format_of_a_stored_comparison(
    compared: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(compared, monkeypatch, "reports")
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == [
        "Download .html",
        "Download .md",
        "Download .json",
        "Download .csv",
    ]
    cmp_id = list_comparisons(compared)["id"].iloc[-1]
    from workbench.store.comparisons import load_comparison

    cmp = load_comparison(compared, cmp_id)
    assert any(cmp.id in md for md in texts(at.markdown))  # the Markdown preview
    assert json.loads(render_json(cmp))["id"] == cmp_id
    assert render_csv(cmp).splitlines()[0].startswith("query_id")
    assert render_markdown(cmp).startswith(f"### Embedding comparison `{cmp_id}`")


def test_every_page_renders_without_exception(compared: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    at = start(compared, monkeypatch)
    for page in ("migrate", "compare", "live_query", "promote", "reports", "decide", "monitor"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        assert at.title, page
    at.switch_page("app.py").run()  # the Workspace page, at the root URL
    assert not at.exception, at.exception
    assert texts(at.title) == ["Workspace · demo"]
