"""Compare: baseline vs candidate column on an eval set — metrics with CIs, distributions, shifts."""

from __future__ import annotations

import streamlit as st

from workbench.comparison import charts
from workbench.comparison.run import compare
from workbench.store.evalsets import list_eval_sets
from workbench_app import resources
from workbench_app.comparison_view import (
    alias_or_column,
    comparison_picker,
    headline,
    metric_table,
    ordered_queries,
    query_label,
    query_metrics,
    sides,
    style_delta,
    table_comparisons,
)
from workbench_app.context import current
from workbench_app.tables import render_side_by_side
from workbench_app.ui import RateProgress, column_pair, reported, require

SELECTED_KEY = "compare.selected"
QUERY_KEY = "compare.query"
K_OPTIONS = [1, 3, 5, 10, 20, 50, 100]

ctx = current()
table = resources.table_at(ctx.uri, ctx.table, ctx.version)
columns = ctx.ws.vector_columns(table)
production = resources.status(ctx.uri, ctx.table, ctx.version)["active_column"]
eval_sets = [s["name"] for s in list_eval_sets(ctx.ws, table=ctx.table)]
stored = table_comparisons(ctx.ws, ctx.table)

st.title("Compare")
st.caption(
    "Run both columns on labelled queries — each query encoded by its own column's pinned "
    "model — and read the difference with paired statistics: bootstrap confidence intervals, "
    "t-test and permutation p-values, rank shifts and score distributions."
)
require(
    len(columns) >= 2, "Comparing needs two vector columns: embed a second model on the **Migrate** page."
)
require(
    eval_sets, f"Table **{ctx.table}** has no eval set: ingest queries and qrels on the **Migrate** page."
)

by_name = {c.name: c for c in columns}

with st.expander("New comparison", expanded=stored.empty, icon=":material/add_chart:"):
    with st.form("compare.form", border=False):
        c1, c2, c3, c4 = st.columns([3, 3, 2, 2])
        baseline, candidate = column_pair(
            (c1, c2),
            columns,
            production,
            keys=("compare.baseline", "compare.candidate"),
            labels=("Baseline (current)", "Candidate (new)"),
        )
        eval_set = c3.selectbox("Eval set", eval_sets, key="compare.eval_set")
        ks = c4.multiselect("k", K_OPTIONS, default=[10, 100], key="compare.k", help="Metric cut-offs")
        run = st.form_submit_button("Run comparison", type="primary", icon=":material/play_arrow:")
    if run:
        with reported("Comparison"):
            progress = RateProgress("Encoding and searching", unit="queries")
            result = compare(
                ctx.ws,
                baseline=alias_or_column(ctx.ws, by_name[baseline]),
                candidate=alias_or_column(ctx.ws, by_name[candidate]),
                eval_set=eval_set,
                table=ctx.table,
                k=ks,
                embedders={n: resources.embedder_for(by_name[n]) for n in (baseline, candidate)},
                on_progress=progress,
            )
            st.session_state[SELECTED_KEY] = result.id
            st.session_state.pop(QUERY_KEY, None)
            st.rerun()

require(not stored.empty, "No comparison of this table yet: open **New comparison** above and run one.")

cmp = resources.comparison(ctx.uri, comparison_picker(stored, key=SELECTED_KEY))
m = cmp.manifest
base_label, cand_label = sides(cmp)
head = headline(cmp)

with st.container(border=True):
    st.markdown(f"#### {cmp.summary}")
    st.caption(
        f"**{base_label}** → **{cand_label}** on eval set **{m.eval_set}** · {m.n_judged} judged of "
        f"{m.n_queries} queries · table `{m.table}` v{m.table_version} · "
        f"k = {', '.join(map(str, m.k_values))} · `{cmp.id}`"
    )
for warning in m.warnings:
    st.warning(warning, icon=":material/warning:")

k = m.shift_k
pq = cmp.per_query
cols = st.columns(5)
if head:
    row = cmp.deltas.loc[head]
    cols[0].metric(
        f"{head} · {cand_label}",
        f"{row['candidate']:.3f}",
        f"{row['delta']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]",
        help=f"{base_label}: {row['baseline']:.3f}. Δ with its 95% bootstrap confidence interval.",
    )
    cols[1].metric(
        "p-value (permutation)",
        f"{row['p_permutation']:.2g}",
        help=f"Paired t-test: p = {row['p_ttest']:.2g}",
    )
    cols[2].metric("Better / tied / worse", f"{row['wins']:.0f} / {row['ties']:.0f} / {row['losses']:.0f}")
else:
    cols[0].metric("Judged queries", 0, help="No labels: rank shifts only.")
cols[3].metric(
    f"Mean overlap@{k}", f"{pq[f'overlap@{k}'].mean():.0%}", help=f"Mean RBO {pq['rbo'].mean():.2f}"
)
cols[4].metric(
    "Score shift (KS)",
    f"{cmp.ks.statistic:.2f}",
    help="Kolmogorov-Smirnov distance of the top-k score distributions",
)

metrics_tab, dist_tab, shift_tab, drill_tab = st.tabs(
    [
        ":material/table_chart: Metrics",
        ":material/bar_chart: Score distributions",
        ":material/swap_vert: Rank shifts",
        ":material/manage_search: Per-query drill-down",
    ]
)

with metrics_tab:
    if cmp.deltas.empty:
        st.info("This eval set has no judged queries, so there are no labelled metrics.")
    else:
        view = metric_table(cmp)
        st.dataframe(
            view.style.map(style_delta, subset=["delta"]).format(
                {
                    "baseline": "{:.4f}",
                    "candidate": "{:.4f}",
                    "delta": "{:+.4f}",
                    "mde": "±{:.3f}",
                    "p_ttest": "{:.3g}",
                    "p_permutation": "{:.3g}",
                }
            ),
            hide_index=True,
            width="stretch",
            height=35 * (len(view) + 1) + 3,
            column_config={
                "metric": st.column_config.TextColumn("Metric", width=110),
                "baseline": st.column_config.NumberColumn(base_label),
                "candidate": st.column_config.NumberColumn(cand_label),
                "delta": st.column_config.NumberColumn("Δ"),
                "ci": st.column_config.TextColumn("95% CI (bootstrap)"),
                "p_ttest": st.column_config.NumberColumn("p (t-test)"),
                "p_permutation": st.column_config.NumberColumn("p (permutation)"),
                "wtl": st.column_config.TextColumn("Better / tied / worse"),
                "mde": st.column_config.TextColumn("MDE", help="Smallest Δ detectable with power 0.8"),
            },
        )
        st.caption(
            "Δ = candidate − baseline, paired per query. CI: 95% bootstrap interval of the mean Δ. "
            "MDE: the smallest difference this many judged queries can detect reliably."
        )
        st.plotly_chart(resources.figure(ctx.uri, cmp.id, "metric_deltas"), width="stretch")

with dist_tab:
    st.plotly_chart(resources.figure(ctx.uri, cmp.id, "score_overlay"), width="stretch")
    st.caption(
        f"Cosine scores of the top {k} results per query. The two models' scales differ "
        f"(KS distance {cmp.ks.statistic:.3f}): a similarity threshold cannot be reused as is."
    )
    if m.n_judged:
        st.plotly_chart(resources.figure(ctx.uri, cmp.id, "score_histograms"), width="stretch")
        st.caption("Judged queries only: how well each model's scores separate relevant from other results.")
    st.markdown("##### Threshold translation")
    st.caption("Quantile mapping: the new cutoff keeps the same share of top-k results as the old one did.")
    thresholds = cmp.thresholds.assign(share_kept=cmp.thresholds["share_kept"] * 100)
    st.dataframe(
        thresholds[["old_cutoff", "share_kept", "new_cutoff"]],
        hide_index=True,
        width=520,
        column_config={
            "old_cutoff": st.column_config.NumberColumn(f"{base_label} cutoff", format="%.2f"),
            "share_kept": st.column_config.NumberColumn("Results kept", format="%.1f%%"),
            "new_cutoff": st.column_config.NumberColumn(f"{cand_label} cutoff", format="%.3f"),
        },
    )

with shift_tab:
    left, right = st.columns(2, gap="large")
    left.plotly_chart(resources.figure(ctx.uri, cmp.id, "overlap_histogram"), width="stretch")
    with right:
        st.markdown(f"##### Queries whose top {k} moved most")
        moved = pq.sort_values(["rbo", "query_id"]).head(10)
        st.dataframe(
            moved[["query", f"overlap@{k}", "rbo", "n_entered", "n_left"]],
            hide_index=True,
            width="stretch",
            column_config={
                "query": st.column_config.TextColumn("Query", width="medium"),
                f"overlap@{k}": st.column_config.ProgressColumn(
                    f"Overlap@{k}", min_value=0, max_value=1, format="percent", width=90
                ),
                "rbo": st.column_config.NumberColumn("RBO", format="%.2f", width=50),
                "n_entered": st.column_config.NumberColumn("In", width=40, help="Documents that entered"),
                "n_left": st.column_config.NumberColumn("Out", width=40, help="Documents that left"),
            },
        )
    st.caption("Label-free: overlap and rank-biased overlap (RBO) of the two top-k lists, on every query.")

with drill_tab:
    queries = ordered_queries(cmp)
    qids = queries["query_id"].tolist()
    qlabels = {r["query_id"]: query_label(r, head) for _, r in queries.iterrows()}
    if st.session_state.get(QUERY_KEY) not in qids:
        st.session_state[QUERY_KEY] = qids[0]
    st.selectbox("Query (worst regressions first)", qids, key=QUERY_KEY, format_func=lambda q: qlabels[q])
    qid = st.session_state[QUERY_KEY]
    st.markdown(f"**“{cmp.query_text(qid)}”** · `{qid}`")
    per_query = query_metrics(cmp, qid)
    if not per_query.empty:
        metric_cols = st.columns(min(len(per_query), 6))
        for col, (_, r) in zip(metric_cols, per_query.head(6).iterrows(), strict=False):
            flat = abs(r["delta"]) < 1e-9
            col.metric(
                r["metric"],
                f"{r['candidate']:.3f}",
                "±0" if flat else f"{r['delta']:+.3f}",
                delta_color="off" if flat else "normal",
                help=f"{base_label}: {r['baseline']:.3f} → {cand_label}: {r['candidate']:.3f}",
            )
    else:
        st.caption("Unjudged query: rank changes only.")
    render_side_by_side(
        cmp.drilldown(qid),
        k=k,
        baseline_label=base_label,
        candidate_label=cand_label,
        key="compare.drill",
    )
    with st.expander("Rank-shift chart", expanded=True, icon=":material/swap_vert:"):
        st.plotly_chart(charts.rank_shift(cmp, qid), width="stretch", key="compare.slope")
