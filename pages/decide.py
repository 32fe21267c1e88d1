"""Decide: rank candidate models on an eval set (quality with CIs, cost, advice) and sweep dimensions."""

from __future__ import annotations

import re

import streamlit as st

from workbench import leaderboard, list_eval_sets, matryoshka_sweep
from workbench.decide.matryoshka import DEFAULT_DIMS, matryoshka_figure
from workbench.decide.watch import watch_candidates
from workbench.models.families import matryoshka_trained
from workbench.store.candidate_watch import list_watches
from workbench_app import resources
from workbench_app.comparison_view import alias_or_column
from workbench_app.context import current
from workbench_app.decide_view import leaderboard_view, pairs_view, sweep_view
from workbench_app.shell import setup_page
from workbench_app.ui import model_short, reported, require

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
aliases = {c.name: alias_or_column(ctx.ws, c) for c in columns}  # what the leaderboard names them


def named(column: str, *, mark: str = " · production") -> str:
    """``minilm-l6 · all-MiniLM-L6-v2`` (``· production`` when it serves)."""
    model = model_short(by_name[column].ref.name)
    head = aliases[column] if aliases[column] != column else model
    text = head if head == model else f"{head} · {model}"
    return text + mark if column == production else text


labels = {name: named(name) for name in by_name}
chips = {  # narrower still: several fit in one multiselect
    name: (aliases[name] if aliases[name] != name else model_short(by_name[name].ref.name))
    + (" (production)" if name == production else "")
    for name in by_name
}


def spoken(column: str) -> str:
    """``minilm-l6 (all-MiniLM-L6-v2)``: how a sentence names a candidate."""
    model = model_short(by_name[column].ref.name)
    return model if aliases[column] in (column, model) else f"{aliases[column]} ({model})"


def named_models(text: str, names: dict[str, str]) -> str:
    """``text`` with each candidate's label replaced by its spoken name."""
    if not names:
        return text
    pattern = "|".join(re.escape(label) for label in sorted(names, key=len, reverse=True))
    return re.sub(rf"(?<![\w.-])({pattern})(?![\w-])", lambda m: names[m.group(1)], text)


st.subheader("Leaderboard")
with st.form("decide.form", border=False):
    c1, c2, c3 = st.columns([2, 4, 2])
    eval_set = c1.selectbox("Eval set", eval_sets, key="decide.eval_set")
    chosen = c2.multiselect(
        "Candidates", list(by_name), default=list(by_name), format_func=chips.get, key="decide.models"
    )
    min_gain = c3.number_input("Minimum gain", 0.0, 1.0, 0.01, 0.005, format="%.3f", key="decide.min_gain")
    run = st.form_submit_button("Rank candidates", type="primary")

if run:
    baseline = production if production in chosen else (chosen[0] if chosen else None)
    with reported("Leaderboard"), st.spinner("Searching every candidate with its own model…"):
        st.session_state[BOARD_KEY] = leaderboard(
            ctx.ws,
            eval_set=eval_set,
            models=[aliases[name] for name in chosen],
            table=ctx.table,
            baseline=aliases[baseline] if baseline else None,
            min_gain=min_gain,
            embedders={name: resources.embedder_for(by_name[name]) for name in chosen},
            throughput_sample=32,
        )

board = st.session_state.get(BOARD_KEY)
if board is not None and board.table == ctx.table:
    frame, config = leaderboard_view(
        board.rows, labels, [m for m in board.rows if f"{m}_ci_low" in board.rows]
    )
    st.dataframe(frame, hide_index=True, column_config=config, key="decide.rows")
    st.caption(
        f"Best first by {board.metric}, on {board.n_judged} judged queries of eval set **{board.eval_set}**."
    )
    frame, config = pairs_view(board.pairs)
    st.dataframe(frame, hide_index=True, column_config=config, key="decide.pairs")
    advice = named_models(
        board.recommendation,
        {
            label: spoken(column)
            for label, column in zip(board.rows["label"], board.rows["column"], strict=True)
        },
    )
    (st.success if board.recommendation.startswith("Migrate") else st.info)(advice)

st.subheader("Matryoshka sweep")
with st.form("decide.sweep", border=False):
    c1, c2, c3 = st.columns([4, 3, 2])
    trained = [name for name in by_name if matryoshka_trained(by_name[name].ref)]
    order = trained + [name for name in by_name if name not in trained]  # Matryoshka-trained first
    column = c1.selectbox("Column", order, format_func=labels.get, key="decide.sweep_column")
    dims = c2.multiselect("Dimensions", [16, 32, 64, 128, 256], default=list(DEFAULT_DIMS), key="decide.dims")
    sweep_eval = c3.selectbox("Eval set", eval_sets, key="decide.sweep_eval")
    sweep = st.form_submit_button("Sweep")
if not matryoshka_trained(by_name[column].ref):
    st.caption(
        f":material/info: **{spoken(column)}** is not a known Matryoshka-trained model"
        + (" (none of this table's models is)" if not trained else "")
        + ": its quality usually falls fast as its vectors are cut. The sweep measures how fast on "
        "your queries; a model trained for truncation (nomic-embed-text-v1.5, OpenAI "
        "text-embedding-3, mxbai-embed, Qwen3-Embedding…) keeps most of it."
    )

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
    st.plotly_chart(matryoshka_figure(curve, label=spoken(curve.column)), key="decide.curve_chart")
    frame, config = sweep_view(curve.points, curve.metrics)
    st.dataframe(frame, hide_index=True, column_config=config, key="decide.points")

st.subheader("Candidate watch")
st.caption(
    "The scheduled re-evaluation (`workbench watch-candidates`, or `watch_every` in monitor.toml): "
    "does a candidate now beat production by more than the margin, with a 95% interval excluding 0?"
)
watches = list_watches(ctx.ws, ctx.table)
if production is not None and st.button("Re-evaluate the candidates now", key="decide.watch"):
    with reported("The candidate watch"), st.spinner("Re-running the leaderboard against production…"):
        watches.append(watch_candidates(ctx.ws, ctx.table, eval_set=eval_set))
if watches:
    latest = watches[-1]
    (st.warning if latest.alarmed else st.info)(f"{latest.at[:10]} on {latest.eval_set}: {latest.summary}")
    st.dataframe(
        [{k: v for k, v in row.items() if k != "column"} for row in latest.rows],
        hide_index=True,
        key="decide.watch_rows",
    )
else:
    st.caption("No watch yet." if production is not None else "Nothing is in production to watch against.")
