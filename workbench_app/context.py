"""Which workspace and table the app is looking at.

The workspace comes from ``WORKBENCH_WORKSPACE`` (default ``workspace`` in the working
directory) or the sidebar field; the table from the sidebar. Every page draws both first
(:func:`workbench_app.shell.setup_page`) and reads them back with :func:`current`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from workbench import WorkbenchError, Workspace
from workbench.contract import DEFAULT_WORKSPACE
from workbench.store.paths import confine_workspace
from workbench_app import resources

URI_KEY = "app.workspace_uri"
TABLE_KEY = "app.table"
SELECT_TABLE_KEY = "app.select_table"  # a page asks the sidebar to switch table on the next run
ENV_VAR = "WORKBENCH_WORKSPACE"


@dataclass(frozen=True)
class Context:
    """The workspace, the selected corpus table and its latest version."""

    ws: Workspace
    table: str
    version: int

    @property
    def uri(self) -> str:
        return self.ws.uri


ROOT_VAR = "WORKBENCH_ALLOWED_ROOT"


def allowed_root() -> str | None:
    """The folder that server paths typed into the app must lie in (``WORKBENCH_ALLOWED_ROOT``), if set."""
    return os.environ.get(ROOT_VAR) or None


def default_uri() -> str:
    return os.environ.get(ENV_VAR) or DEFAULT_WORKSPACE


def is_missing_local(uri: str) -> bool:
    """A local path that does not exist yet (opening it would create an empty folder)."""
    return "://" not in uri and not Path(uri).exists()


def builds_demo_by_itself(uri: str) -> bool:
    """Only the project's default workspace gets the demo without asking.

    A workspace named by ``WORKBENCH_WORKSPACE`` or typed in the sidebar is meant for the
    user's own data: the app asks before putting the demo there.
    """
    return uri == DEFAULT_WORKSPACE


def refusal(uri: str) -> str | None:
    """Why the app may not open (and so write to) ``uri``, or None.

    With ``WORKBENCH_ALLOWED_ROOT`` set, only local folders inside it: the sidebar field would
    otherwise let any user create folders and write tables anywhere the server can. A NUL byte
    or an empty path is refused in every case.
    """
    try:
        confine_workspace(uri, allowed_root())
    except WorkbenchError as exc:
        return f"Cannot open workspace: {exc}"
    return None


def open_selected() -> Workspace | None:
    """The workspace named in the sidebar, or None (with an error shown) if it cannot be opened."""
    uri = st.session_state.get(URI_KEY) or default_uri()
    problem = refusal(uri)
    if problem is not None:
        st.error(problem, icon=":material/error:")
        return None
    if is_missing_local(uri) and not builds_demo_by_itself(uri):
        st.info(
            f"There is no workspace folder `{uri}`: check the path in the sidebar.", icon=":material/info:"
        )
        return None
    try:
        return resources.workspace(uri)
    except WorkbenchError as exc:
        st.error(f"Cannot open workspace {uri!r}: {exc}", icon=":material/error:")
        return None


def open_or_stop() -> Workspace:
    """The selected workspace; ends the page when there is none."""
    ws = open_selected()
    if ws is None:
        st.stop()
    return ws


def current() -> Context:
    """The page's context; ends the page with a way forward when there is no table to show."""
    ws = open_or_stop()
    names = ws.table_names()
    if not names:
        st.info(
            f"Workspace `{ws.uri}` has no corpus table yet. Add your own data — upload a BEIR "
            "folder as .zip or corpus, queries and qrels files, or name a path on this machine — "
            "or build the demo from the sidebar (CLI: `workbench ingest PATH`).",
            icon=":material/info:",
        )
        st.page_link("pages/migrate.py", label="Add your data", icon=":material/upload:")
        st.stop()
    table = st.session_state.get(TABLE_KEY)
    if table not in names:
        table = names[0]
    return Context(ws, table, resources.latest_version(ws, table))
