"""Live query: any query, both columns' top-k side by side, each encoded by its own pinned model."""

from __future__ import annotations

import time

import streamlit as st

from workbench import list_eval_sets, load_eval_set
from workbench.comparison.live import agreement, with_judgements
from workbench_app import resources
from workbench_app.context import current
from workbench_app.shell import setup_page
from workbench_app.tables import render_side_by_side, render_texts
from workbench_app.ui import column_label, column_pair, reported, require

QUERY_KEY = "live.query"
SAMPLE_KEY = "live.sample"

setup_page()
ctx = current()
table = resources.table_at(ctx.uri, ctx.table, ctx.version)
columns = ctx.ws.vector_columns(table)
status = resources.status(ctx.uri, ctx.table, ctx.version)
production = status["active_column"]

st.title("Live query")
st.caption(
    "Type any query: each side encodes it with the pinned model that wrote its column and "
    "searches only that column (exact cosine search), so you see what users would get before "
    "and after the migration."
)
require(
    len(columns) >= 2,
    "Live query needs two vector columns: embed a second model on the **Migrate** page.",
)

by_name = {c.name: c for c in columns}


def _use_sample() -> None:
    sample = st.session_state.get(SAMPLE_KEY)
    if sample:
        st.session_state[QUERY_KEY] = sample


sets = [str(s["name"]) for s in list_eval_sets(ctx.ws, table=ctx.table)]
eval_set = load_eval_set(ctx.ws, sets[0]) if sets else None
samples = list(eval_set.queries.values())[:40] if eval_set else []

q_col, c3, k_col = st.columns([3, 2, 1])
query = q_col.text_input("Query", key=QUERY_KEY, placeholder="e.g. how do I roll back a bad deploy?")
k = k_col.number_input("k", min_value=1, max_value=100, value=10, step=1, key="live.k")
c1, c2 = st.columns(2)  # half a row each: a model name with its fingerprint is not cut at 1280 px
baseline, candidate = column_pair((c1, c2), columns, production, keys=("live.baseline", "live.candidate"))
if samples:
    c3.selectbox(
        "…or an eval-set query",
        ["", *samples],
        key=SAMPLE_KEY,
        on_change=_use_sample,
        format_func=lambda s: s or "pick one",
        help=f"Queries of eval set {sets[0]!r}",
    )

transition = st.toggle(
    "Transition search",
    key="live.transition",
    help="Serve as during a progressive migration: the candidate column over the rows it covers, "
    "production's column over the others, merged without comparing cosines across models; each "
    "hit says which model ranked it.",
)
require(query.strip(), "Type a query above to see both columns' results side by side.")
require(baseline != candidate, "Pick two different columns.")

if transition:
    merge = st.radio("Merge", ["rrf", "calibrated"], horizontal=True, key="live.merge")
    with reported("Transition search"):
        index = resources.transition_index(ctx.uri, ctx.table, ctx.version, candidate, merge)
        result = index.search(query, k=int(k))
        t1, t2, t3 = st.columns(3)
        t1.metric("Coverage", f"{result.coverage:.0%}", help="Rows of the candidate column with a vector.")
        t2.metric("Answered by the new model", f"{result.new_share:.0%}", help="Share of these hits.")
        t3.metric("Old column", column_label(by_name[result.old_column], production))
        st.dataframe(
            [
                {
                    "rank": h.rank,
                    "id": h.id,
                    "title": h.title,
                    "model": "new" if h.column == result.column else "old",
                    "cosine (own space)": round(h.cosine, 4),
                    "merged score": round(h.score, 4),
                }
                for h in result.hits
            ],
            hide_index=True,
            width="stretch",
            key="live.transition_results",
        )
    st.stop()

with reported("Search"):
    started = time.perf_counter()
    with st.spinner("Encoding with both models and searching…"):
        frame = resources.live_query(ctx.uri, ctx.table, ctx.version, query, baseline, candidate, int(k))
    elapsed = time.perf_counter() - started
    judged = with_judgements(frame, eval_set, query) if eval_set else None
    if judged is not None:
        frame = judged
        st.caption(f"An eval-set query of **{eval_set.name}**: ★ marks its judged-relevant documents.")
    agree = agreement(frame, k=int(k))

    m1, m2, m3, m4 = st.columns(4)
    m1.metric(
        f"Overlap@{k}",
        f"{agree.overlap:.0%}",
        help="Share of the baseline's top k that the candidate also returns.",
    )
    m2.metric(
        "Rank-biased overlap",
        f"{agree.rbo:.2f}",
        help="1 = identical rankings, 0 = disjoint; weighs the top positions most.",
    )
    m3.metric(
        "Top-1 cosine",
        f"{agree.baseline_top_score:.3f} → {agree.candidate_top_score:.3f}",
        help="Cosine scales differ between models: compare rankings, not raw scores.",
    )
    m4.metric("Latency", f"{elapsed * 1000:.0f} ms", help="Both encodes and searches; a repeat is cached.")
    render_side_by_side(
        frame,
        k=int(k),
        baseline_label=column_label(by_name[baseline], production),
        candidate_label=column_label(by_name[candidate], production),
        key="live.results",
    )
    texts = resources.document_texts(ctx.uri, ctx.table, ctx.version, tuple(frame["doc_id"]))
    render_texts(frame, texts, k=int(k))
