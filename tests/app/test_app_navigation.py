"""The app's navigation: classic ``pages/``, no router, grouped ``st.page_link`` links in the sidebar.

Every page starts with ``workbench_app.shell.setup_page``, which draws the links; Streamlit's own
flat page list is hidden by ``.streamlit/config.toml``. The browser tests check the same on a real
server, including a shared link opened first.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.demo import DEMO_TABLE, demo_data_dir
from workbench.embedding.ingest import ingest
from workbench.store.workspace import Workspace
from workbench_app.shell import NAVIGATION

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
ALIASES = {"pages/workspace.py"}  # the old /workspace address: it leads to the root
# The sidebar as it was under the st.navigation router: groups, titles, icons, URL paths.
EXPECTED = [
    ("Inspect", "Workspace", ":material/database:", ""),
    ("Migrate", "Decide", ":material/leaderboard:", "decide"),
    ("Migrate", "Migrate", ":material/sync_alt:", "migrate"),
    ("Migrate", "Compare", ":material/compare_arrows:", "compare"),
    ("Migrate", "Live query", ":material/search:", "live_query"),
    ("Ship", "Promote", ":material/rocket_launch:", "promote"),
    ("Ship", "Reports", ":material/description:", "reports"),
    ("Operate", "Monitor", ":material/monitor_heart:", "monitor"),
]
PAGES = ["app.py"] + [f"pages/{path.name}" for path in sorted((REPO / "pages").glob("*.py"))]


def start(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("WORKBENCH_WORKSPACE", ws.uri)
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, at.exception
    return at


def sidebar_links(at: AppTest) -> list[tuple[str, str, str, str]]:
    """(label, icon, URL path, page script hash) of every page link in the sidebar, in order."""
    return [
        (link.proto.label, link.proto.icon, link.proto.page, link.proto.page_script_hash)
        for link in at.sidebar.get("page_link")
    ]


def test_streamlits_own_page_list_is_hidden() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showSidebarNavigation"] is False


def test_the_navigation_names_every_page_once_with_todays_groups_titles_and_icons() -> None:
    listed = [
        (group, link.label, link.icon, link.page) for group, links in NAVIGATION.items() for link in links
    ]
    assert [row[:3] for row in listed] == [row[:3] for row in EXPECTED]
    scripts = [row[3] for row in listed]
    assert sorted(scripts) == sorted(set(PAGES) - ALIASES)  # every page linked, once
    assert all((REPO / script).is_file() for script in scripts)


def test_every_page_draws_the_grouped_links_and_each_points_at_an_existing_page(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(demo_ws, monkeypatch)
    for page in [p for p in PAGES if p not in ALIASES]:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        links = sidebar_links(at)
        # a link to a missing page raises in st.page_link; a found one carries the page's hash
        assert [(label, icon, path) for label, icon, path, _ in links] == [row[1:] for row in EXPECTED], page
        assert all(script_hash for *_, script_hash in links), page
        groups = [str(c.value) for c in at.sidebar.caption if str(c.value) in NAVIGATION]
        assert groups == ["Inspect", "Migrate", "Ship", "Operate"], page
        assert at.sidebar.selectbox(key="app.table").value == DEMO_TABLE, page


def test_the_old_workspace_address_leads_to_the_root_page(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = start(demo_ws, monkeypatch)
    at.switch_page("pages/compare.py").run()
    at.switch_page("pages/workspace.py").run()
    assert not at.exception, at.exception
    assert [str(t.value) for t in at.title] == [f"Workspace · {DEMO_TABLE}"]


def test_the_chosen_workspace_and_table_stay_chosen_across_pages(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(demo_ws, demo_data_dir(), table="second", eval_set="second")
    at = start(demo_ws, monkeypatch)
    at.sidebar.selectbox(key="app.table").select("second").run()
    assert [str(t.value) for t in at.title] == ["Workspace · second"]
    for page in ("pages/reports.py", "pages/migrate.py", "app.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert at.sidebar.selectbox(key="app.table").value == "second", page
        assert at.sidebar.text_input(key="app.workspace_uri").value == demo_ws.uri, page
    assert [str(t.value) for t in at.title] == ["Workspace · second"]
