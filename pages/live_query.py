"""Live query: any query, both columns' top-k side by side, each encoded by its own pinned model."""

from __future__ import annotations

import time

import streamlit as st

from workbench.evalsets import list_eval_sets, load_eval_set
from workbench.shifts import overlap_at_k, rank_biased_overlap
from workbench_app import resources
from workbench_app.context import current
from workbench_app.tables import live_frame, render_side_by_side
from workbench_app.ui import column_label, reported, require

QUERY_KEY = "live.query"
SAMPLE_KEY = "live.sample"

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
names = list(by_name)
base_default = names.index(production) if production in names else 0
cand_default = next(i for i, n in enumerate(names) if i != base_default)


def _use_sample() -> None:
    sample = st.session_state.get(SAMPLE_KEY)
    if sample:
        st.session_state[QUERY_KEY] = sample


sets = [s["name"] for s in list_eval_sets(ctx.ws) if s["table"] == ctx.table]
samples = list(load_eval_set(ctx.ws, sets[0]).queries.values())[:40] if sets else []

q_col, k_col = st.columns([5, 1])
query = q_col.text_input("Query", key=QUERY_KEY, placeholder="e.g. how do I roll back a bad deploy?")
k = k_col.number_input("k", min_value=1, max_value=100, value=10, step=1, key="live.k")
c1, c2, c3 = st.columns([2, 2, 2])
baseline = c1.selectbox(
    "Baseline",
    names,
    index=base_default,
    key="live.baseline",
    format_func=lambda n: column_label(by_name[n], production),
)
candidate = c2.selectbox(
    "Candidate",
    names,
    index=cand_default,
    key="live.candidate",
    format_func=lambda n: column_label(by_name[n], production),
)
if samples:
    c3.selectbox(
        "…or an eval-set query",
        ["", *samples],
        key=SAMPLE_KEY,
        on_change=_use_sample,
        format_func=lambda s: s or "pick one",
        help=f"Queries of eval set {sets[0]!r}",
    )

require(query.strip(), "Type a query above to see both columns' results side by side.")
require(baseline != candidate, "Pick two different columns.")

depth = max(100, 3 * int(k))  # deeper than k, so a document that left the top k still has a rank
with reported("Search"):
    started = time.perf_counter()
    with st.spinner("Encoding with both models and searching…"):
        hits = {
            side: resources.live_search(ctx.uri, ctx.table, ctx.version, name, query.strip(), depth)
            for side, name in (("baseline", baseline), ("candidate", candidate))
        }
    elapsed = time.perf_counter() - started
    ids = tuple(sorted(set(hits["baseline"]["doc_id"].head(k)) | set(hits["candidate"]["doc_id"].head(k))))
    titles = resources.documents(ctx.uri, ctx.table, ctx.version, ids)["title"]
    frame = live_frame(hits["baseline"], hits["candidate"], titles, k=int(k))

    base_ids, cand_ids = hits["baseline"]["doc_id"].tolist(), hits["candidate"]["doc_id"].tolist()
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(
        f"Overlap@{k}",
        f"{overlap_at_k(base_ids, cand_ids, int(k)):.0%}",
        help="Share of the baseline's top k that the candidate also returns.",
    )
    m2.metric(
        "Rank-biased overlap",
        f"{rank_biased_overlap(base_ids[:k], cand_ids[:k]):.2f}",
        help="1 = identical rankings, 0 = disjoint; weighs the top positions most.",
    )
    top1 = f"{hits['baseline']['score'].iloc[0]:.3f} → {hits['candidate']['score'].iloc[0]:.3f}"
    m3.metric(
        "Top-1 cosine", top1, help="Cosine scales differ between models: compare rankings, not raw scores."
    )
    m4.metric("Latency", f"{elapsed * 1000:.0f} ms", help="Both encodes and searches; a repeat is cached.")
    render_side_by_side(
        frame,
        k=int(k),
        baseline_label=column_label(by_name[baseline], production),
        candidate_label=column_label(by_name[candidate], production),
        key="live.results",
    )
