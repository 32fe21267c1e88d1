"""The embedding migration workbench app: ``streamlit run app.py``.

This file is the router: it draws the sidebar (workspace and table), builds the demo
workspace on first start when it is missing, and hands over to the selected page. The pages
are thin clients of the ``workbench`` library.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import streamlit as st

from workbench.demo import DEMO_TABLE, build_demo, demo_ready
from workbench.errors import WorkbenchError
from workbench.store.workspace import Workspace
from workbench_app import resources
from workbench_app.context import (
    SELECT_TABLE_KEY,
    TABLE_KEY,
    URI_KEY,
    builds_demo_by_itself,
    default_uri,
    is_missing_local,
    open_selected,
)
from workbench_app.ui import RateProgress

st.set_page_config(
    page_title="Embedding migration workbench",
    page_icon=":material/swap_horiz:",
    layout="wide",
    initial_sidebar_state="expanded",
)

PAGES = {
    "Inspect": [
        st.Page("pages/workspace.py", title="Workspace", icon=":material/database:", default=True),
    ],
    "Migrate": [
        st.Page("pages/decide.py", title="Decide", icon=":material/leaderboard:"),
        st.Page("pages/migrate.py", title="Migrate", icon=":material/sync_alt:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("pages/live_query.py", title="Live query", icon=":material/search:"),
    ],
    "Ship": [
        st.Page("pages/promote.py", title="Promote", icon=":material/rocket_launch:"),
        st.Page("pages/reports.py", title="Reports", icon=":material/description:"),
    ],
    "Operate": [
        st.Page("pages/monitor.py", title="Monitor", icon=":material/monitor_heart:"),
    ],
}


def build_demo_here(ws: Workspace) -> None:
    """Build (or finish building) the demo, one progress bar per step, then reload."""
    st.title("Setting up the demo workspace")
    st.caption(
        f"First start: `{ws.uri}` has no demo yet. Ingesting the project's demo corpus and "
        "embedding it with an old and a new pinned model — about half a minute, once. "
        "An interrupted build resumes where it stopped."
    )
    with st.status("Building the demo…", expanded=True) as box:
        try:
            messages = build_demo(ws, step=lambda description: RateProgress(description.capitalize()))
        except WorkbenchError as exc:
            box.update(label="The demo could not be built", state="error")
            st.error(str(exc), icon=":material/error:")
            st.stop()
        for line in messages:
            st.write(f"✓ {line}")
        box.update(label="Demo workspace ready", state="complete")
    st.rerun()


def sidebar() -> tuple[Workspace | None, bool]:
    """Workspace field and table picker: the open workspace (or None) and whether to build the demo."""
    st.session_state.setdefault(URI_KEY, default_uri())
    with st.sidebar:
        st.text_input(
            "Workspace",
            key=URI_KEY,
            help="A local folder or any LanceDB URI (s3://…). Default: $WORKBENCH_WORKSPACE or ./workspace",
        )
        uri = st.session_state[URI_KEY]
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
            if st.session_state.get(TABLE_KEY) not in names:
                st.session_state[TABLE_KEY] = DEMO_TABLE if DEMO_TABLE in names else names[0]
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


navigation = st.navigation(PAGES)
workspace, build = sidebar()
if workspace is None:
    if is_missing_local(st.session_state[URI_KEY]):
        st.info(
            "This workspace does not exist yet. In the sidebar, **create an empty workspace** for your "
            "own data (you can then upload or point at a corpus on the **Migrate** page), or create it "
            "with the demo.",
            icon=":material/create_new_folder:",
        )
    else:
        st.info(
            "Choose a workspace in the sidebar: a local folder or any LanceDB URI.", icon=":material/info:"
        )
    st.stop()
if build and needs_demo(workspace):
    build_demo_here(workspace)
navigation.run()
