"""End to end in a real browser: Debian chromium + Python Playwright against ``streamlit run app.py``.

One flow on a copy of the demo workspace: workspace → migrate → compare (run, tabs, drill-down)
→ live query → promote → roll back → download reports. One flow of a new user's own data from
an empty workspace: upload a BEIR zip → validate → ingest → embed with two models → compare →
click a query's point → judge two documents → re-run on the new eval-set version → promote.
Screenshots of every step go to ``test-artifacts/screenshots/`` and timings are printed (run
with ``-s`` to see them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.production.history import history
from workbench.store.comparisons import list_comparisons, load_comparison
from workbench.store.evalsets import load_eval_set
from workbench.store.production import production_column
from workbench.store.workspace import open_workspace

if TYPE_CHECKING:
    from workbench.store.comparisons import Comparison

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 90_000


@dataclass
class Server:
    url: str
    workspace: Path
    started: float
    log: Path
    timings: dict[str, float] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``streamlit run app.py`` on a private copy of the demo workspace, on a free port."""
    workspace = tmp_path_factory.mktemp("browser") / "ws"
    shutil.copytree(demo_template, workspace)
    yield from serve(workspace)


@pytest.fixture(scope="module")
def new_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app on a workspace path that does not exist yet (a user's own data, not the demo)."""
    yield from serve(tmp_path_factory.mktemp("browser-new") / "my-workspace")


def serve(workspace: Path) -> Iterator[Server]:
    port = _free_port()
    log = workspace.parent / "server.log"
    env = {**os.environ, "WORKBENCH_WORKSPACE": str(workspace), "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not become healthy in 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        result = Server(url, workspace, started, log)
        result.timings["server healthy"] = time.perf_counter() - started
        yield result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def shot(page: object, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.wait_for_timeout(600)  # type: ignore[attr-defined]  # let the last paint settle
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    print(f"screenshot: {path}")
    return path


NAV_LINK = '[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]'
# The sidebar's navigation: (group, link, URL path, the page's heading), drawn by setup_page.
NAVIGATION = [
    ("Inspect", "Workspace", "", "Workspace · demo"),
    ("Migrate", "Decide", "decide", "Decide"),
    ("Migrate", "Migrate", "migrate", "Migrate"),
    ("Migrate", "Compare", "compare", "Compare"),
    ("Migrate", "Live query", "live_query", "Live query"),
    ("Ship", "Promote", "promote", "Promote"),
    ("Ship", "Reports", "reports", "Reports"),
    ("Operate", "Monitor", "monitor", "Monitor"),
]


def sidebar_link(page: object, title: str) -> object:
    """The sidebar's link to the page titled ``title``."""
    label = re.compile(rf"{re.escape(title)}$")  # the text is the icon's name, then the title
    return page.locator(NAV_LINK).filter(has_text=label).first  # type: ignore[attr-defined]


def expect_grouped_navigation(page: object) -> None:
    """The sidebar shows the grouped page links in order, and not Streamlit's own page list."""
    from playwright.sync_api import expect

    links = page.locator(NAV_LINK)  # type: ignore[attr-defined]
    expect(links).to_have_count(len(NAVIGATION))
    for nth, (_, title, _, _) in enumerate(NAVIGATION):
        expect(links.nth(nth)).to_contain_text(title)
    groups = page.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]')  # type: ignore[attr-defined]
    for group in dict.fromkeys(row[0] for row in NAVIGATION):
        expect(groups.filter(has_text=re.compile(rf"^{group}$"))).to_have_count(1)
    expect(page.locator('[data-testid="stSidebarNav"]')).to_have_count(0)  # type: ignore[attr-defined]


def test_end_to_end_compare_drilldown_promote_rollback_report(server: Server, browser: object) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1440, "height": 1700}, accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    timings = server.timings

    def nav(title: str) -> None:
        sidebar_link(page, title).click()
        expect(page.get_by_role("heading", level=1).first).to_contain_text(title)

    # 1. Workspace
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Workspace · demo")).to_be_visible()
    timings["first page rendered"] = time.perf_counter() - server.started
    expect(page.get_by_text("paraphrase-MiniLM-L3-v2").first).to_be_visible()
    shot(page, "01-workspace")

    # 2. Migrate
    nav("Migrate")
    expect(page.get_by_text("Pinned models")).to_be_visible()
    shot(page, "02-migrate")
    start = time.perf_counter()
    nav("Workspace")
    expect(page.get_by_text("Promotion history")).to_be_visible()
    timings["workspace page, cached (same table version)"] = time.perf_counter() - start
    nav("Migrate")

    # 3. Compare: run one, then every tab
    nav("Compare")
    start = time.perf_counter()
    page.get_by_role("button", name="Run comparison").click()
    expect(page.locator('[data-testid="stMetricLabel"]', has_text="Better / worse")).to_be_visible()
    expect(page.locator('[data-testid="stPlotlyChart"] .main-svg').first).to_be_visible()
    timings["run a comparison (uncached: encode, search, stats, render)"] = time.perf_counter() - start
    timings["server start → first rendered comparison"] = time.perf_counter() - server.started
    summary = page.locator("h4").first.inner_text()
    assert "nDCG@10" in summary
    shot(page, "03-compare-metrics")
    page.get_by_role("tab").filter(has_text="Score distributions").click()
    expect(page.get_by_text("Threshold translation")).to_be_visible()
    shot(page, "04-compare-distributions")
    page.get_by_role("tab").filter(has_text="Rank shifts").click()
    shot(page, "05-compare-rank-shifts")

    # 4. Drill-down: pick the third-worst query
    page.get_by_role("combobox", name="Query (worst regressions first)").click()
    page.get_by_role("option").nth(2).click()
    expect(page.get_by_text(re.compile(r"\d+ entered and \d+ dropped out of the top 10"))).to_be_visible()
    page.get_by_text("Rank-shift chart").click()
    expect(page.locator('[data-testid="stPlotlyChart"]', has_text="Rank shift in the top 10")).to_be_visible()
    shot(page, "06-compare-drilldown")

    # cached vs uncached: reopening the page reads the stored comparison from the cache
    nav("Reports")
    start = time.perf_counter()
    nav("Compare")
    expect(page.locator('[data-testid="stMetricLabel"]', has_text="Better / worse")).to_be_visible()
    expect(page.locator('[data-testid="stPlotlyChart"] .main-svg').first).to_be_visible()
    timings["compare page, cached comparison"] = time.perf_counter() - start

    # 5. Live query: uncached (models may load) vs the same query again (cached)
    nav("Live query")
    box = page.get_by_label("Query", exact=True)
    start = time.perf_counter()
    box.fill("how do I undo my last commit")
    box.press("Enter")
    expect(page.locator('[data-testid="stMetricLabel"]', has_text="Rank-biased overlap")).to_be_visible()
    timings["live query, uncached"] = time.perf_counter() - start
    shot(page, "07-live-query")
    box.fill("planting tomatoes after frost")
    box.press("Enter")
    expect(page.locator('[data-testid="stMetricLabel"]', has_text="Rank-biased overlap")).to_be_visible()
    page.wait_for_timeout(300)
    start = time.perf_counter()
    box.fill("how do I undo my last commit")
    box.press("Enter")
    expect(page.locator('[data-testid="stMetricValue"]').last).not_to_have_text("")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT_MS
    )
    timings["live query, cached"] = time.perf_counter() - start

    # 6. Promote (with confirmation), then roll back
    nav("Promote")
    expect(page.get_by_text("may be promoted")).to_be_visible()
    shot(page, "08-promote-gate")
    page.get_by_role("button", name="Promote all-MiniLM-L6-v2…").click()
    page.get_by_role("button", name="Confirm promotion").click()
    # the success message (the same words are also a row of the page's recent-moves table)
    expect(page.get_by_role("paragraph").filter(has_text="production of 'demo' →")).to_be_visible()
    ws = open_workspace(server.workspace)
    assert production_column(ws.table(DEMO_TABLE)) == ws.model(NEW_MODEL).column
    shot(page, "09-promoted")
    page.get_by_role("button", name="Roll back…").click()
    page.get_by_role("button", name="Confirm rollback").click()
    expect(page.get_by_role("paragraph").filter(has_text="rolled back 'demo'")).to_be_visible()
    assert production_column(ws.table(DEMO_TABLE)) == ws.model(OLD_MODEL).column
    assert [r.action for r in history(ws, DEMO_TABLE)][-2:] == ["promote", "rollback"]
    shot(page, "10-rolled-back")

    # 7. Reports: download and check the content
    nav("Reports")
    cmp_id = list_comparisons(ws)["id"].iloc[-1]
    contents = {}
    for fmt in ("md", "json", "html"):
        with page.expect_download() as download:
            page.get_by_role("button", name=f"Download .{fmt}").click()
        assert download.value.suggested_filename == f"{cmp_id}.{fmt}"
        contents[fmt] = Path(download.value.path()).read_text(encoding="utf-8")
    assert contents["md"].startswith(f"### Embedding comparison `{cmp_id}`")
    assert json.loads(contents["json"])["manifest"]["candidate_column"] == ws.model(NEW_MODEL).column
    assert "<html" in contents["html"].lower() and "plotly" in contents["html"].lower()
    shot(page, "11-reports")

    # 8. The workspace after the round trip: versions, tags and the audit history
    nav("Workspace")
    expect(page.get_by_text("Promotion history")).to_be_visible()
    shot(page, "12-workspace-after")
    context.close()

    print("\ntimings (seconds):")
    for name, seconds in timings.items():
        print(f"  {name:<60} {seconds:6.2f}")


def clickable_query(cmp: Comparison) -> tuple[str, int, int]:
    """A query with two or more unjudged documents, not open yet, and where the per-query chart draws it."""
    from workbench.comparison.charts import query_deltas
    from workbench_app.comparison_view import ordered_queries

    counts = cmp.unjudged()["query_id"].value_counts()
    opened = ordered_queries(cmp)["query_id"].iloc[0]  # the drill-down's default
    for trace_index, trace in enumerate(query_deltas(cmp).data):
        for index, data in enumerate(trace.customdata):
            if counts.get(data[0], 0) >= 2 and data[0] != opened:
                return str(data[0]), trace_index, index
    raise AssertionError("no charted query with two unjudged documents")


def test_onboarding_own_data_upload_ingest_embed_compare(
    new_server: Server, browser: object, tmp_path: Path
) -> None:
    """A new user's first run of their own data, entirely in the app."""
    from playwright.sync_api import expect

    from tests.app.test_app_onboarding import small_beir, zipped

    archive = tmp_path / "mycorpus.zip"
    archive.write_bytes(zipped(small_beir(80, empty=("d0005",))))
    context = browser.new_context(viewport={"width": 1440, "height": 1700})  # type: ignore[attr-defined]
    page = context.new_page()
    slow = 3 * TIMEOUT_MS  # two model loads and embeddings on a shared 2-core machine
    page.set_default_timeout(slow)
    expect.set_options(timeout=slow)
    timings = new_server.timings
    workspace = new_server.workspace

    def nav(title: str) -> None:
        sidebar_link(page, title).click()
        expect(page.get_by_role("heading", level=1).first).to_contain_text(title)

    def visible(locator: object) -> object:  # a rerun can leave a stale, hidden copy for a moment
        return locator.locator("visible=true").first  # type: ignore[attr-defined]

    def done() -> None:  # the script run finished
        page.wait_for_timeout(300)
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")

    # 1. A new path: nothing is created or built until asked
    page.goto(new_server.url)
    expect(page.get_by_text("No folder")).to_be_visible()
    assert not workspace.exists()
    shot(page, "20-onboarding-new-path")
    page.get_by_role("button", name="Create an empty workspace").click()
    expect(page.get_by_text("no corpus table yet")).to_be_visible()
    assert workspace.is_dir() and open_workspace(workspace).table_names(include_internal=True) == []
    shot(page, "21-onboarding-empty-workspace")

    # 2. Upload a BEIR zip, validate (refused: an empty document), choose skip, ingest
    page.get_by_role("link", name="Add your data").click()
    expect(page.get_by_role("heading", name="Add your data")).to_be_visible()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(archive))
    expect(page.get_by_text("mycorpus.zip")).to_be_visible()
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_text("--on-empty skip")).to_be_visible()
    page.get_by_role("combobox", name="Documents with empty text").click()
    page.get_by_role("option", name="skip them (and their judgements)").click()
    done()
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_text("Skipped 1 document(s) with empty text")).to_be_visible()
    shot(page, "22-onboarding-validated")
    page.get_by_role("button", name="Ingest 79 documents").click()
    expect(page.get_by_role("heading", name="Migrate")).to_be_visible()
    expect(page.get_by_text("table 'mycorpus': 79 documents")).to_be_visible()
    done()
    shot(page, "23-onboarding-ingested")

    # 3. Embed with the old, then the new model, with progress
    start = time.perf_counter()
    for alias, slug in (("minilm-l3", "paraphrase_minilm_l3_v2"), ("minilm-l6", "all_minilm_l6_v2")):
        visible(page.get_by_role("combobox", name="Pinned model")).click()
        page.get_by_role("option", name=re.compile(rf"^{alias} · ")).click()
        done()
        visible(page.get_by_role("button", name="Start re-embedding")).click()
        expect(
            page.get_by_text(re.compile(rf"added vec__{slug}__\w+ to 'mycorpus': 79 rows"))
        ).to_be_visible()
        done()
    timings["embed 79 documents with two models (incl. loading them)"] = time.perf_counter() - start
    shot(page, "24-onboarding-embedded")

    # 4. The initial production is the old model; then compare
    nav("Promote")
    expect(page.get_by_text("Record what search serves today", exact=False)).to_be_visible()
    page.get_by_role("button", name="Make it production").click()
    expect(page.get_by_text("paraphrase-MiniLM-L3-v2", exact=False).first).to_be_visible()
    nav("Compare")
    page.get_by_role("button", name="Run comparison").click()
    expect(page.locator('[data-testid="stMetricLabel"]', has_text="Better / worse")).to_be_visible()
    done()
    shot(page, "25-onboarding-compared")

    # 5. Click a query's point in the per-query chart: its drill-down opens, the URL names it
    ws = open_workspace(workspace)
    cmp = load_comparison(ws, list_comparisons(ws)["id"].iloc[-1])
    qid, trace, index = clickable_query(cmp)
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="Per query:")
    point = chart.locator("g.trace.scatter").nth(trace).locator("path.point").nth(index)
    point.scroll_into_view_if_needed()
    done()
    box = point.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)  # plotly picks the point under the hover, then the click selects it
    expect(page.locator(".hoverlayer .hovertext").first).to_contain_text(f"query {qid}")
    shot(page, "26-onboarding-per-query-chart")
    page.mouse.click(x, y)
    expect(page).to_have_url(re.compile(rf"[?&]query={re.escape(qid)}(&|$)"))
    expect(page).to_have_url(re.compile(rf"[?&]comparison={cmp.id}(&|$)"))
    expect(page.get_by_text(f"· {qid}", exact=False).first).to_be_visible()
    done()
    judging = page.locator('[data-testid="stExpander"]').filter(
        has_text=re.compile(r"Judge the \d+ unjudged document\(s\) of this query")
    )
    expect(judging).to_be_visible()
    judging.scroll_into_view_if_needed()
    shot(page, "27-onboarding-drilldown")
    judging.locator("summary").click()  # collapsed until asked: the abstracts are long

    # 6. Judge two unjudged documents, save them as the eval set's next version
    grades = judging.get_by_role("radiogroup", name="Grade")  # one per document, in pool order
    expect(grades.first).to_be_visible()
    pool = cmp.unjudged(qid)
    for nth, grade in ((0, "2 · highly relevant"), (1, "0 · not relevant")):
        grades.nth(nth).get_by_role("radio", name=grade).click()
        done()
    shot(page, "28-onboarding-graded")
    visible(page.get_by_role("button", name="Save 2 judgement(s)")).click()
    expect(page.get_by_text(re.compile(r"v2: 2 new and 0 changed judgement\(s\)"))).to_be_visible()
    done()
    qrels = load_eval_set(ws, cmp.manifest.eval_set).qrels[qid]
    assert [qrels[str(d)] for d in pool["doc_id"].head(2)] == [2, 0]
    shot(page, "29-onboarding-judged")

    # 7. One click re-runs the comparison on the new eval-set version and opens it
    visible(page.get_by_role("button", name=re.compile(r"Re-run this comparison on .+ v2"))).click()
    expect(page).not_to_have_url(re.compile(rf"[?&]comparison={cmp.id}(&|$)"))
    expect(page.locator('[data-testid="stMetricLabel"]', has_text="Better / worse")).to_be_visible()
    done()
    fresh = load_comparison(ws, list_comparisons(ws)["id"].iloc[-1])
    assert fresh.id != cmp.id and fresh.manifest.eval_set_hash != cmp.manifest.eval_set_hash
    expect(page).to_have_url(re.compile(rf"[?&]comparison={fresh.id}(&|$)"))
    page.locator('[data-testid="stMain"]').evaluate("e => e.scrollTo(0, 0)")
    shot(page, "30-onboarding-rerun")

    # 8. Promote the candidate on the new evidence
    nav("Promote")
    expect(page.get_by_text(fresh.summary[:40], exact=False).first).to_be_visible()
    done()
    shot(page, "31-onboarding-gate")
    if page.get_by_text("may be promoted").count() == 0:  # the gate did not say GO: override, with a reason
        page.get_by_text("Override the gate (forced promotion)").click()
        done()
        page.get_by_label("Reason (required)").fill("onboarding test: promote on the re-run evidence")
        page.get_by_label("Reason (required)").press("Control+Enter")
        done()
    visible(page.get_by_role("button", name="Promote all-MiniLM-L6-v2…")).click()
    visible(page.get_by_role("button", name="Confirm promotion")).click()
    expect(page.get_by_text("production of 'mycorpus' →")).to_be_visible()
    done()
    assert production_column(ws.table("mycorpus")) == ws.model("minilm-l6").column
    assert history(ws, "mycorpus")[-1].gate.comparison_id == fresh.id  # type: ignore[union-attr]
    shot(page, "32-onboarding-promoted")

    # 9. A shared link opens that comparison at that query, in a new session
    link = context.new_page()
    link.goto(f"{new_server.url}/compare?comparison={cmp.id}&query={qid}")
    expect(link.get_by_text(f"· {qid}", exact=False).first).to_be_visible()
    expect(link.locator("h4").first).to_contain_text(cmp.summary[:30])
    expect(link.get_by_text("Corpus table")).to_be_visible()  # setup_page ran: sidebar and wide layout
    expect(link.locator('[data-testid="stMetricLabel"]', has_text="Better / worse")).to_be_visible()
    link.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
    link.wait_for_timeout(600)
    link.screenshot(path=str(SHOTS / "33-onboarding-shared-link.png"))
    context.close()
    print("\ntimings (seconds):")
    for name, seconds in timings.items():
        print(f"  {name:<60} {seconds:6.2f}")


def test_a_shared_link_is_the_first_request_of_a_fresh_server(
    compared_template: tuple[Path, str], tmp_path: Path, browser: object
) -> None:
    """A link opened before anyone loaded the root URL gets the whole app: sidebar, navigation, wide layout.

    With ``pages/`` beside ``app.py`` Streamlit runs a classic multipage app: a page opened first
    runs that page's script alone, without ``app.py``. Every page starts with
    ``workbench_app.shell.setup_page``, so it draws the same sidebar and grouped navigation.
    """
    from playwright.sync_api import expect

    template, comparison_id = compared_template
    workspace = tmp_path / "ws"
    shutil.copytree(template, workspace)
    for fresh in serve(workspace):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
        page.goto(f"{fresh.url}/compare?comparison={comparison_id}")
        expect(page.get_by_text("Corpus table")).to_be_visible(timeout=60_000)
        better = page.locator('[data-testid="stMetricLabel"]', has_text="Better / worse")
        expect(better).to_be_visible(timeout=60_000)
        expect_grouped_navigation(page)
        expect(page).to_have_title("Embedding migration workbench")
        shot(page, "40-shared-link-on-a-fresh-server")
        page.close()


def test_every_sidebar_link_opens_its_page(server: Server, browser: object) -> None:
    """Each link of the grouped navigation points at an existing page, at today's URL; a bookmark of each works."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Workspace · demo")).to_be_visible()
    expect_grouped_navigation(page)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator('[data-testid="stSidebar"]').screenshot(path=str(SHOTS / "41-sidebar-navigation.png"))
    for _, title, path, _ in NAVIGATION:  # from the root, where the root's link (href "") is the root
        href = sidebar_link(page, title).evaluate("a => a.href")  # type: ignore[attr-defined]
        assert href.rstrip("/") == f"{server.url}/{path}".rstrip("/"), title
    for _, title, path, heading in NAVIGATION:
        sidebar_link(page, title).click()  # type: ignore[attr-defined]
        expect(page.get_by_role("heading", level=1).first).to_have_text(heading)
        expect(page).to_have_url(re.compile(rf"^{re.escape(server.url)}/{path}(\?.*)?$"))
    for _, _, path, heading in NAVIGATION:  # each address opened directly, as a bookmark
        page.goto(f"{server.url}/{path}")
        expect(page.get_by_role("heading", level=1).first).to_have_text(heading)
        expect_grouped_navigation(page)
    page.goto(f"{server.url}/workspace")  # the address the router also answered: the root page
    expect(page.get_by_role("heading", level=1).first).to_have_text("Workspace · demo")
    expect(page).to_have_url(re.compile(rf"^{re.escape(server.url)}/?$"))
    page.close()
