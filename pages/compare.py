"""Compare: baseline vs candidate column on an eval set — metrics with CIs, distributions, shifts.

Shareable: ``?comparison=<id>&query=<query id>`` opens a stored comparison at one query.
"""

from __future__ import annotations

import streamlit as st

from workbench_app import compare_sections as sections
from workbench_app import resources, rollout
from workbench_app.comparison_view import comparison_picker
from workbench_app.context import current
from workbench_app.shell import setup_page
from workbench_app.ui import require

setup_page()
ctx = current()
columns = ctx.ws.vector_columns(resources.table_at(ctx.uri, ctx.table, ctx.version))
production = resources.status(ctx.uri, ctx.table, ctx.version)["active_column"]
eval_sets = [str(s["name"]) for s in resources.eval_sets(ctx.uri, ctx.table)]
sections.follow_url_table(ctx)
stored = resources.stored_comparisons(ctx.uri, ctx.table)

st.title("Compare")
st.caption(
    "Run both columns on labelled queries — each query encoded by its own column's pinned "
    "model — and read the difference with paired statistics: a sign-flip test with the interval "
    "that inverts it, Holm-adjusted p-values across metrics, rank shifts, score distributions "
    "and how much of each top list the qrels have judged."
)
require(
    len(columns) >= 2, "Comparing needs two vector columns: embed a second model on the **Migrate** page."
)
require(
    eval_sets, f"Table **{ctx.table}** has no eval set: ingest queries and qrels on the **Migrate** page."
)

with st.expander("New comparison", expanded=stored.empty, icon=":material/add_chart:"):
    sections.new_comparison(ctx, columns, production, eval_sets)
require(
    not stored.empty,
    "No comparison of this table yet: choose the two columns and the eval set in **New comparison** "
    "above, then **Run comparison**.",
)

sections.follow_url(stored["id"].tolist())
cmp = resources.comparison(ctx.uri, comparison_picker(stored, key=sections.SELECTED_KEY))
sections.headline_tiles(cmp)
rollout.live_evidence(ctx, cmp.manifest.candidate_column)
metrics_tab, dist_tab, shift_tab = st.tabs(
    [
        ":material/table_chart: Metrics",
        ":material/bar_chart: Score distributions",
        ":material/swap_vert: Rank shifts",
    ]
)
with metrics_tab:
    sections.metrics_tab(ctx, cmp)
with dist_tab:
    sections.distributions_tab(ctx, cmp)
with shift_tab:
    sections.shifts_tab(ctx, cmp)

st.subheader("Per-query drill-down", anchor="drill-down")
sections.share_url(cmp, sections.drilldown(ctx, cmp))
