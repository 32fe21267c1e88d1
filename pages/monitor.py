"""Monitor: production's signals over time, with the baseline band, alarms and production moves."""

from __future__ import annotations

import streamlit as st

from workbench import history, monitor, table_status
from workbench.monitoring.config import workspace_monitor_config
from workbench.monitoring.drift import baseline_window
from workbench.monitoring.view import monitor_figure, promoting_comparison
from workbench.production.rollout import current_rollout
from workbench.store.candidate_watch import list_watches
from workbench.store.monitor_runs import list_monitor_runs
from workbench.store.production import production
from workbench_app.context import current
from workbench_app.shell import setup_page
from workbench_app.ui import reported, require

COMPARE_KEY = "compare.selected"  # the Compare page's selection, preset by the link below
DONE_KEY = "monitor.done"

setup_page()
ctx = current()
st.title("Monitor")
st.caption(
    "Each pass checks what production serves: eval metrics with their confidence intervals, the "
    "distribution of query–top-k cosine scores (from the query log, else the eval queries), "
    "missing or stale rows and the model pin, and index recall. Drift is judged against the "
    "baseline window, the first passes after the last promotion. Run passes from cron with "
    "`workbench monitor` (exit 1 on an alarm), or here."
)
table = ctx.ws.table(ctx.table)
current_production = production(table)
require(
    current_production is not None, "Nothing is in production yet: promote a column on the **Promote** page."
)
if DONE_KEY in st.session_state:
    st.success(st.session_state.pop(DONE_KEY), icon=":material/task_alt:")

if st.button("Run a pass now", key="monitor.run", icon=":material/monitor_heart:"):
    with st.spinner("Measuring production…"), reported("The monitoring pass"):
        run = monitor(ctx.ws, ctx.table, maintenance=False)
        st.session_state[DONE_KEY] = f"Pass {run.seq}: {run.verdict}" + (
            f" — {len(run.alarms)} alarm(s)" if run.alarms else ""
        )
        st.rerun()

runs = list_monitor_runs(ctx.ws, ctx.table)
require(runs, "No monitoring pass of this table yet: run one with the button above or `workbench monitor`.")
events = history(ctx.ws, ctx.table)
config = workspace_monitor_config(ctx.ws)
last = runs[-1]
window = baseline_window(runs, events, column=last.column, size=config.baseline_passes)

c1, c2, c3 = st.columns(3)
c1.metric("Last pass", f"#{last.seq}: {last.verdict.upper()}", help=last.at)
c2.metric("Production", f"v{last.production_version}", help=last.column)
c3.metric("Baseline window", f"{len(window)} of {config.baseline_passes} passes")

if last.alarms:
    for alarm in last.alarms:
        st.error(alarm, icon=":material/notifications_active:")
    comparison = promoting_comparison(events, last.column)
    if comparison:
        st.session_state[COMPARE_KEY] = comparison
        st.page_link(
            "pages/compare.py",
            label=f"Open comparison {comparison}: the evidence that promoted this column",
            icon=":material/compare_arrows:",
        )
    else:
        st.caption("This column became production without a comparison (initial or forced promotion).")

st.plotly_chart(monitor_figure(runs, events, window), key="monitor.chart")
st.caption(
    "Shaded: each series' range over the baseline window; ✕: an alarm; dotted lines: production "
    "moves (promotions, rollbacks, refreshes, retirements)."
)

with st.expander("Signals of the last pass", expanded=bool(last.alarms)):
    for signal in last.signals:
        st.markdown(f"**{signal.name}** · `{signal.status}` — {signal.reason}")
    for action in last.actions:
        st.markdown(f"*maintenance:* {action}")

st.subheader("Horizon")
sunset = last.signal("sunset")
if sunset is not None:
    (st.error if sunset.alarmed else st.info)(f"Sunset: {sunset.reason}", icon=":material/event_busy:")
else:
    st.caption("Production's model has no sunset date (`workbench models sunset ALIAS DATE` records one).")
watches = list_watches(ctx.ws, ctx.table)
if watches:
    latest = watches[-1]
    every = config.watch_every or "not scheduled (watch_every in monitor.toml)"
    shown = st.warning if latest.alarmed else st.info
    shown(
        f"Candidate watch {latest.at[:10]} (every {every}): {latest.summary}",
        icon=":material/travel_explore:",
    )
else:
    st.caption("No candidate watch yet: `workbench watch-candidates`, or set watch_every in monitor.toml.")

status = table_status(ctx.ws.table(ctx.table))
progressive = [c for c in status.columns if c.progressive]
if progressive:
    st.subheader("Progressive migration")
    rows = status.rows
    rollout = current_rollout(ctx.ws, ctx.table)
    for column in progressive:
        share = column.embedded_rows / rows if rows else 0.0
        serving = (
            "served by transition search (`workbench serve` reports the share of answers ranked by it "
            "as `workbench_transition_new_share`)"
            if rollout is not None and rollout.action == "progressive" and rollout.candidate == column.name
            else "not served yet (`workbench rollout progressive`)"
        )
        st.progress(
            min(share, 1.0),
            text=f"{column.model}: {column.embedded_rows:,} of {rows:,} rows ({share:.0%}), {serving}",
        )
