"""Production, rollback target and the audit history, for the Workspace and Promote pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from workbench import PromotionRecord, WorkbenchError
from workbench.production.promote import rollback_target as library_rollback_target
from workbench.store.production import Production, columns_at, production
from workbench_app import resources
from workbench_app.context import Context
from workbench_app.ui import model_short, reported, short_column, short_columns_in, when

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench import Workspace

_ACTIONS = {
    "promote": "↑ promote",
    "rollback": "↩ rollback",
    "refresh": "↻ refresh",
    "retire": "✕ retire",
    "maintain": "⚙ maintain",
}


def rollback_target(ws: Workspace, table: Table, current: Production | None) -> tuple[int, str | None] | None:
    """The version (and its column) a rollback would go back to, or None (the library decides)."""
    if current is None:
        return None
    try:
        target = library_rollback_target(ws, table.name)
    except WorkbenchError:
        return None
    return target.version, target.column


def history_frame(records: list[PromotionRecord], names: dict[str, str] | None = None) -> pd.DataFrame:
    """The audit trail, newest first, one readable row per event (``names``: column → model)."""
    rows = [
        {
            "seq": r.seq,
            "action": _ACTIONS.get(r.action, r.action),
            "at": when(r.at),
            "actor": r.actor,
            "change": (f"{short_column(r.from_column, names)} v{r.from_version}" if r.from_column else "none")
            + f" → {short_column(r.to_column, names)} v{r.to_version}",
            "gate": _gate_text(r),
            "reason": r.reason,
        }
        for r in reversed(records)
    ]
    return pd.DataFrame(rows, columns=["seq", "action", "at", "actor", "change", "gate", "reason"])


def _gate_text(r: PromotionRecord) -> str:
    if r.initial:
        return "initial (no gate)"
    if r.gate is None:
        return "forced, no comparison" if r.forced else "—"
    marks = {"GO": "✓ GO", "NO-GO": "✗ NO-GO", "INCONCLUSIVE": "? INCONCLUSIVE"}
    return f"{marks[r.gate.verdict]} · {r.gate.comparison_id}" + (" · forced" if r.forced else "")


def confirm_box(
    question: str,
    act: Callable[[], PromotionRecord],
    *,
    what: str,
    open_key: str,
    done_key: str,
    keys: tuple[str, str],
    blocked: str | None = None,
    names: dict[str, str] | None = None,
) -> None:
    """An "are you sure?" box: Confirm runs ``act`` and reruns with its message; Cancel closes it.

    Args:
        question: Markdown: what will happen.
        act: The lifecycle move (its errors are shown with ``what`` as the prefix).
        what: "Promotion", "Rollback".
        open_key: The session-state flag that keeps the box open.
        done_key: Where the record's message goes, for the next run to show.
        keys: Widget keys of the confirm and cancel buttons.
        blocked: Why Confirm is disabled, or None.
        names: Column → model name, so the success message names models, not ``vec__…`` ids.
    """
    with st.container(border=True):
        st.markdown(question)
        if blocked:
            st.warning(blocked, icon=":material/edit_note:")
        ok, cancel = st.columns(2)
        if ok.button(f"Confirm {what.lower()}", key=keys[0], type="primary", disabled=bool(blocked)):
            with reported(what):
                st.session_state[done_key] = short_columns_in(act().message, names)
                st.session_state[open_key] = False
                st.rerun()
        if cancel.button("Cancel", key=keys[1]):
            st.session_state[open_key] = False
            st.rerun()


def model_names(ws: Workspace, table: Table) -> dict[str, str]:
    """Column name → short model name, for the columns the table has now."""
    return {c.name: model_short(c.ref.name) for c in ws.vector_columns(table)}


HISTORY_ROWS = 25
HISTORY_HEADERS = {
    "seq": "#",
    "action": "Action",
    "at": "When",
    "actor": "Who",
    "change": "Production",
    "gate": "Gate",
    "reason": "Reason",
}


def history_section(ctx: Context) -> None:
    """The audit trail of production moves of the context's table."""
    records = resources.history(ctx.uri, ctx.table)
    if not records:
        st.caption("No promotion yet: make a column production on the **Promote** page.")
        return
    names = model_names(ctx.ws, ctx.ws.table(ctx.table))
    frame = history_frame(records, names).head(HISTORY_ROWS)
    # A static table: its cells wrap, so a long production move, gate id or reason is never cut.
    st.table(frame.rename(columns=HISTORY_HEADERS).set_index("#"))
    if len(records) > HISTORY_ROWS:
        st.caption(f"The latest {HISTORY_ROWS} of {len(records)} events; `workbench history` lists them all.")


def annotate_timeline(
    versions: pd.DataFrame, records: list[PromotionRecord], production_version: int | None
) -> pd.DataFrame:
    """Say what production is and what each metadata version did.

    A rollback moves the tag back *and* writes a metadata-only version at the head (so the
    latest metadata names the active column): that version is not production, and reads as if
    it were unless it says so. Adds ``production`` (a mark on the tagged version).
    """
    moved = {r.to_version for r in records if r.action in ("promote", "refresh")}
    rollbacks = iter(sorted((r for r in records if r.action == "rollback"), key=lambda r: r.seq))
    changes = dict(zip(versions["version"], versions["change"], strict=True))
    for version in sorted(changes):
        text = str(changes[version])
        if text.startswith("production → ") and version not in moved:
            back = next(rollbacks, None)
            target = f"v{back.to_version}" if back else "an earlier version"
            changes[version] = (
                f"rollback: production back to {target} ({text.removeprefix('production → ')}); "
                "this version only carries the metadata"
            )
    marks = ["● production" if v == production_version else "" for v in versions["version"]]
    return versions.assign(change=versions["version"].map(changes), production=marks)


def production_summary(ws: Workspace, table: Table) -> tuple[Production | None, str]:
    """The production tag and a readable name of its model."""
    current = production(table)
    if current is None or current.column is None:
        return current, "none"
    column = columns_at(table, current.version).get(current.column)
    return current, model_short(column.ref.name) if column else current.column
