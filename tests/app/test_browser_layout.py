"""Every main page at 1280 and 1920 px in real chromium: nothing a person reads is cut off.

One browser session on a copy of the demo with a stored comparison, a monitoring pass and the
initial promotion; the viewport is resized in place (the session, and so the Decide page's
leaderboard, survives). On each page: no table scrolls sideways (Streamlit's data grid draws on
a canvas; its scroller is as wide as its content), and no text element clips or ellipsises its
text. A screenshot of each page at each width goes to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.test_browser import SHOTS, TIMEOUT_MS, Server, serve, sidebar_link
from tests.app.test_browser import browser as browser  # the module's chromium, shared by this file
from workbench.demo import DEMO_TABLE, OLD_MODEL
from workbench.monitoring.monitor import monitor
from workbench.store.workspace import open_workspace

pytestmark = pytest.mark.browser

WIDTHS = (1280, 1920)
# (sidebar link, the page's heading)
PAGES = [
    ("Workspace", "Workspace · demo"),
    ("Decide", "Decide"),
    ("Migrate", "Migrate"),
    ("Compare", "Compare"),
    ("Live query", "Live query"),
    ("Promote", "Promote"),
    ("Reports", "Reports"),
    ("Monitor", "Monitor"),
]

# Text cut by its box: a leaf element (not SVG, not a form input) whose content is wider than
# itself while it hides the overflow; and a data grid that scrolls sideways.
CUT = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const cut = [];
  const pen = document.createElement('canvas').getContext('2d');
  for (const e of main.querySelectorAll('input[role="combobox"]')) {  // a selectbox shows its value in one
    const style = getComputedStyle(e);
    pen.font = style.font;
    const room = e.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (!e.clientWidth) continue;  // in a tab not shown
    if (e.value && pen.measureText(e.value).width > room + 1) cut.push(`picker: ${e.value}`);
  }
  for (const e of main.querySelectorAll('*')) {
    if (e.children.length || e instanceof SVGElement || ['INPUT', 'TEXTAREA'].includes(e.tagName)) continue;
    if (!e.clientWidth || e.scrollWidth <= e.clientWidth + 1 || !e.textContent.trim()) continue;
    const style = getComputedStyle(e);
    if (style.overflowX !== 'visible' || style.textOverflow === 'ellipsis') cut.push(e.textContent.trim().slice(0, 80));
  }
  const grids = [...main.querySelectorAll('.dvn-scroller')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => `a table ${e.scrollWidth} px wide in ${e.clientWidth} px`);
  return [...cut, ...grids];
}"""


@pytest.fixture(scope="module")
def layout_server(
    compared_template: tuple[Path, str], embedders: dict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The demo with a comparison and one monitoring pass of production (the old model)."""
    workspace = tmp_path_factory.mktemp("layout") / "ws"
    shutil.copytree(compared_template[0], workspace)
    ws = open_workspace(workspace)
    monitor(ws, DEMO_TABLE, embedder=embedders[ws.model(OLD_MODEL).column], maintenance=False)
    yield from serve(workspace)


def test_main_pages_are_not_cut_at_1280_and_1920_px(layout_server: Server, browser: object) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 1400})  # type: ignore[attr-defined]
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page.goto(layout_server.url)
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[str]] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1400})
        for title, heading in PAGES:
            sidebar_link(page, title).click()  # a click keeps the session (goto would start a new one)
            expect(page.get_by_role("heading", level=1).first).to_have_text(heading)
            fill(page, title)
            page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
            page.wait_for_timeout(800)  # let the grids and charts lay out at this width
            path = SHOTS / f"layout-{width}-{title.lower().replace(' ', '-')}.png"
            page.screenshot(path=str(path))
            print(f"screenshot: {path}")
            found = page.evaluate(CUT)
            if found:
                problems[f"{title} at {width} px"] = found
    page.close()
    assert not problems, problems


def fill(page: object, title: str) -> None:
    """Bring the page to the state a person reads: results drawn, not only the form."""
    from playwright.sync_api import expect

    main = page.locator('[data-testid="stMain"]')  # type: ignore[attr-defined]
    if title == "Decide":
        if main.locator('[data-testid="stDataFrame"]').count() == 0:  # ranked once, kept by the session
            page.get_by_role("button", name="Rank candidates").click()  # type: ignore[attr-defined]
        expect(main.locator('[data-testid="stDataFrame"]')).to_have_count(2)
        expect(main.get_by_text("Migrate to minilm-l6 (all-MiniLM-L6-v2)", exact=False)).to_be_visible()
        expect(page.get_by_role("button", name="Sweep")).to_be_visible()  # type: ignore[attr-defined]
    elif title == "Compare":
        expect(main.locator('[data-testid="stPlotlyChart"] .main-svg').first).to_be_visible()
    elif title == "Live query":
        box = page.get_by_label("Query", exact=True)  # type: ignore[attr-defined]
        if not box.input_value():
            box.fill("how do I undo my last commit")
            box.press("Enter")
        expect(main.locator('[data-testid="stMetricLabel"]', has_text="Rank-biased overlap")).to_be_visible()
    elif title == "Monitor":
        expect(main.locator('[data-testid="stPlotlyChart"] .main-svg').first).to_be_visible()
