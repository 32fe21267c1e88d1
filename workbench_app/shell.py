"""What every page of the app draws first: page config, the sidebar, the demo on first start.

The app is a classic Streamlit multipage app: ``app.py`` is the entry page (Workspace, at the
root URL) and every script in ``pages/`` is a page whose URL is its file name (``/compare``,
``/live_query``…). There is no ``st.navigation`` router: each page starts with
:func:`setup_page`, so a page opened first from a shared link gets the same sidebar, workspace
and demo handling as the root. Streamlit's automatic page list is hidden
(``client.showSidebarNavigation = false`` in ``.streamlit/config.toml``); :func:`setup_page`
draws the grouped navigation itself with ``st.page_link``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from workbench import WorkbenchError, Workspace, build_demo
from workbench.demo import DEMO_TABLE, DemoWork, demo_ready, demo_work
from workbench.progress import ProgressFn
from workbench_app import resources
from workbench_app.context import (
    SELECT_TABLE_KEY,
    TABLE_KEY,
    URI_KEY,
    builds_demo_by_itself,
    default_uri,
    is_missing_local,
    open_selected,
    refusal,
)
from workbench_app.ui import RateProgress

__all__ = ["NAVIGATION", "PAGE_TITLE", "DemoSteps", "NavLink", "setup_page"]

PAGE_TITLE = "Embedding migration workbench"

# Streamlit's wide layout keeps 5rem each side of the main column: at 1280 px beside the sidebar
# that leaves ~820 px, too few for a history or top-k table. 2rem keeps ~920 px.
LAYOUT_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-left: 2rem; padding-right: 2rem; max-width: 100%; }
</style>"""


@dataclass(frozen=True)
class NavLink:
    """One entry of the sidebar navigation: a page script (relative to ``app.py``), its label and icon."""

    page: str
    label: str
    icon: str


NAVIGATION: dict[str, list[NavLink]] = {
    "Inspect": [
        NavLink("app.py", "Workspace", ":material/database:"),
    ],
    "Migrate": [
        NavLink("pages/decide.py", "Decide", ":material/leaderboard:"),
        NavLink("pages/migrate.py", "Migrate", ":material/sync_alt:"),
        NavLink("pages/compare.py", "Compare", ":material/compare_arrows:"),
        NavLink("pages/live_query.py", "Live query", ":material/search:"),
    ],
    "Ship": [
        NavLink("pages/promote.py", "Promote", ":material/rocket_launch:"),
        NavLink("pages/reports.py", "Reports", ":material/description:"),
    ],
    "Operate": [
        NavLink("pages/monitor.py", "Monitor", ":material/monitor_heart:"),
    ],
}


def setup_page() -> None:
    """Start a page: config, navigation and workspace sidebar, and the demo on first start.

    Ends the run (``st.stop``) with a way forward when no workspace is open yet.
    """
    # Before any model loads (the libraries that read these are imported on first use).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    st.set_page_config(
        page_title=PAGE_TITLE,
        page_icon=":material/swap_horiz:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    st.html(LAYOUT_CSS)
    navigation()
    workspace, build = sidebar()
    if workspace is None:
        problem = refusal(st.session_state[URI_KEY])
        if problem is not None:  # outside WORKBENCH_ALLOWED_ROOT, a NUL byte: nothing was created
            st.error(problem, icon=":material/error:")
        elif is_missing_local(st.session_state[URI_KEY]):
            st.info(
                "This workspace does not exist yet. In the sidebar, **create an empty workspace** for "
                "your own data (you can then upload or point at a corpus on the **Migrate** page), or "
                "create it with the demo.",
                icon=":material/create_new_folder:",
            )
        else:
            st.info(
                "Choose a workspace in the sidebar: a local folder or any LanceDB URI.",
                icon=":material/info:",
            )
        st.stop()
    if build and needs_demo(workspace):
        build_demo_here(workspace)


def navigation() -> None:
    """The sidebar's grouped page links (Streamlit's own page list is hidden by the config)."""
    with st.sidebar.container(key="app-navigation"):
        for group, links in NAVIGATION.items():
            st.caption(group)
            for link in links:
                st.page_link(link.page, label=link.label, icon=link.icon)
        st.divider()


def build_demo_here(ws: Workspace) -> None:
    """Build (or finish building) the demo, one progress bar per step and one for it all, then reload.

    The time left is computed from the speed measured as the build runs (documents and queries
    per second on this machine now), not promised in advance.
    """
    st.title("Setting up the demo workspace")
    work = demo_work(ws)
    models = " and ".join(f"`{m}`" for m in work.models) or "no model"
    comparing = f", then compare them on {work.queries:,} queries" if work.queries else ""
    st.caption(
        f"First start: `{ws.uri}` has no demo yet. Ingesting the project's demo corpus "
        f"({work.documents:,} documents), loading {models} once and embedding the corpus with "
        f"each{comparing}. The bar below measures the speed on this machine as it goes and shows "
        "the time left. An interrupted build resumes where it stopped."
    )
    overall = RateProgress("The whole demo", unit="items")
    with st.status("Building the demo…", expanded=True) as box:
        try:
            messages = build_demo(ws, step=DemoSteps(work, overall))
        except WorkbenchError as exc:
            box.update(label="The demo could not be built", state="error")
            st.error(str(exc), icon=":material/error:")
            st.stop()
        for line in messages:
            st.write(f"✓ {line}")
        box.update(label="Demo workspace ready", state="complete")
    st.rerun()


class DemoSteps:
    """The demo's step factory: a bar per step, and every step's items fed to one overall bar.

    Loading a model draws its own bar but adds no items: its time shows as a lower measured
    rate, so the overall time left includes it once the build has started.
    """

    def __init__(self, work: DemoWork, overall: RateProgress) -> None:
        self.total = max(work.units, 1)
        self.overall = overall
        self.base = 0  # items of the steps already finished

    def __call__(self, description: str) -> ProgressFn:
        bar = RateProgress(description.capitalize())
        counted = not description.startswith("loading")
        start = self.base
        if counted:
            self.overall(start, self.total)

        def report(done: int, total: int) -> None:
            bar(done, total)
            if counted:
                self.base = start + total if done >= total else self.base
                self.overall(min(start + done, self.total), self.total)

        return report


def sidebar() -> tuple[Workspace | None, bool]:
    """Workspace field and table picker: the open workspace (or None) and whether to build the demo.

    Each page draws both widgets anew, under its own widget ids: their values are written back
    to their keys before they are drawn, so a page switch keeps the chosen workspace and table
    (a widget drawn on a new page would otherwise start from its default).
    """
    st.session_state[URI_KEY] = st.session_state.get(URI_KEY, default_uri())
    with st.sidebar:
        st.text_input(
            "Workspace",
            key=URI_KEY,
            help="A local folder or any LanceDB URI (s3://…). Default: $WORKBENCH_WORKSPACE or ./workspace",
        )
        uri = st.session_state[URI_KEY]
        if refusal(uri) is not None:  # setup_page says why; nothing is created or opened
            return None, False
        build = builds_demo_by_itself(uri)  # only the default workspace gets the demo unasked
        if is_missing_local(uri) and not build:
            st.warning(f"No folder `{uri}` yet.", icon=":material/folder_off:")
            empty = st.button(
                "Create an empty workspace", key="app.create_empty", icon=":material/create_new_folder:"
            )
            demo = st.button("Create it with the demo", key="app.create_demo", icon=":material/construction:")
            if not (empty or demo):
                return None, False
            resources.workspace(uri)  # creates the folder
            build = demo
        ws = open_selected()
        if ws is None:
            return None, False
        names = ws.table_names()
        if not names and not build:
            st.caption("An empty workspace: add your data on the **Migrate** page, or:")
            build = st.button("Build the demo here", key="app.build_demo", icon=":material/construction:")
        if names:
            chosen = st.session_state.pop(SELECT_TABLE_KEY, None)
            if chosen in names:
                st.session_state[TABLE_KEY] = chosen
            table = st.session_state.get(TABLE_KEY)
            st.session_state[TABLE_KEY] = (
                table if table in names else DEMO_TABLE if DEMO_TABLE in names else names[0]
            )
            st.selectbox("Corpus table", names, key=TABLE_KEY)
        if st.button(
            "Reload workspace",
            key="app.reload",
            icon=":material/refresh:",
            help="Re-read the config and tables, e.g. after a change from the CLI.",
        ):
            resources.workspace.clear()
            st.rerun()
        st.caption(f"`{ws.uri}`")
    return ws, build


def needs_demo(ws: Workspace) -> bool:
    """An empty local workspace, or a demo whose build was interrupted."""
    if not ws.is_local:
        return False
    return not ws.table_names() or (ws.has_table(DEMO_TABLE) and not demo_ready(ws))
