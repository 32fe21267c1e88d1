"""Decide: rank candidate models on an eval set (quality with CIs, cost, advice) and sweep dimensions."""

from __future__ import annotations

import streamlit as st

from workbench import leaderboard, list_eval_sets, matryoshka_sweep
from workbench.decide.matryoshka import DEFAULT_DIMS, matryoshka_figure
from workbench_app import resources
from workbench_app.context import current
from workbench_app.shell import setup_page
from workbench_app.ui import column_label, reported, require

BOARD_KEY = "decide.board"
CURVE_KEY = "decide.curve"

setup_page()
ctx = current()
table = resources.table_at(ctx.uri, ctx.table, ctx.version)
columns = ctx.ws.vector_columns(table)
production = resources.status(ctx.uri, ctx.table, ctx.version)["active_column"]
eval_sets = [s["name"] for s in list_eval_sets(ctx.ws, table=ctx.table)]

st.title("Decide")
st.caption(
    "Before migrating: rank every candidate column on your own labelled queries — each metric with "
    "its 95% interval, every pair tested and Holm-corrected — beside bytes per vector, query latency "
    "and embed throughput; then see what truncating the vectors (Matryoshka) would cost in quality."
)
require(
    len(columns) >= 2, "A leaderboard needs two vector columns: embed another model on the **Migrate** page."
)
require(
    eval_sets, f"Table **{ctx.table}** has no eval set: ingest queries and qrels on the **Migrate** page."
)

by_name = {c.name: c for c in columns}
labels = {c.name: column_label(c, production) for c in columns}

st.subheader("Leaderboard")
with st.form("decide.form", border=False):
    c1, c2, c3 = st.columns([2, 4, 2])
    eval_set = c1.selectbox("Eval set", eval_sets, key="decide.eval_set")
    chosen = c2.multiselect(
        "Candidates", list(by_name), default=list(by_name), format_func=labels.get, key="decide.models"
    )
    min_gain = c3.number_input("Minimum gain", 0.0, 1.0, 0.01, 0.005, format="%.3f", key="decide.min_gain")
    run = st.form_submit_button("Rank candidates", type="primary")

if run:
    baseline = production if production in chosen else (chosen[0] if chosen else None)
    with reported("Leaderboard"), st.spinner("Searching every candidate with its own model…"):
        st.session_state[BOARD_KEY] = leaderboard(
            ctx.ws,
            eval_set=eval_set,
            models=chosen,
            table=ctx.table,
            baseline=baseline,
            min_gain=min_gain,
            embedders={name: resources.embedder_for(by_name[name]) for name in chosen},
            throughput_sample=32,
        )

board = st.session_state.get(BOARD_KEY)
if board is not None and board.table == ctx.table:
    rows = board.rows.assign(label=board.rows["column"].map(labels))
    st.dataframe(rows.drop(columns=["column"]), hide_index=True, key="decide.rows")
    st.dataframe(board.pairs, hide_index=True, key="decide.pairs")
    (st.success if board.recommendation.startswith("Migrate") else st.info)(board.recommendation)

st.subheader("Matryoshka sweep")
with st.form("decide.sweep", border=False):
    c1, c2, c3 = st.columns([4, 2, 2])
    column = c1.selectbox("Column", list(by_name), format_func=labels.get, key="decide.sweep_column")
    dims = c2.multiselect("Dimensions", [16, 32, 64, 128, 256], default=list(DEFAULT_DIMS), key="decide.dims")
    sweep_eval = c3.selectbox("Eval set", eval_sets, key="decide.sweep_eval")
    sweep = st.form_submit_button("Sweep")

if sweep:
    with reported("Sweep"), st.spinner("Truncating and searching the stored vectors…"):
        st.session_state[CURVE_KEY] = matryoshka_sweep(
            ctx.ws,
            column=column,
            eval_set=sweep_eval,
            dims=[d for d in dims if d <= by_name[column].dim],
            table=ctx.table,
            embedders={column: resources.embedder_for(by_name[column])},
        )

curve = st.session_state.get(CURVE_KEY)
if curve is not None and curve.column in by_name:
    st.plotly_chart(matryoshka_figure(curve), key="decide.curve_chart")
    st.dataframe(curve.points, hide_index=True, key="decide.points")
