"""The sections of the Compare page: new-comparison form, headline, tabs, per-query drill-down.

Keys are namespaced ``compare.*``. A comparison and a query have shareable URLs
(``?comparison=<id>&query=<qid>``), and a row of the "moved most" table opens its drill-down.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from workbench import compare, load_eval_set
from workbench.comparison import charts
from workbench.comparison.report import escape_markdown
from workbench.formatting import interval, number, p_text, p_value
from workbench_app import resources
from workbench_app.comparison_view import (
    alias_or_column,
    headline,
    metric_table,
    ordered_queries,
    query_label,
    query_metrics,
    sides,
    style_delta,
)
from workbench_app.context import SELECT_TABLE_KEY
from workbench_app.judging import judge_box
from workbench_app.segments import segment_filter, segment_table
from workbench_app.tables import render_side_by_side
from workbench_app.ui import SidesProgress, column_pair, reported

if TYPE_CHECKING:
    from workbench import Comparison
    from workbench.store.workspace import VectorColumn
    from workbench_app.context import Context

SELECTED_KEY = "compare.selected"
NEXT_KEY = "compare.select_next"  # set after the picker exists; applied before it, next run
QUERY_KEY = "compare.query"
PICKS = ("compare.baseline", "compare.candidate")
K_OPTIONS = [1, 3, 5, 10, 20, 50, 100]


def follow_url_table(ctx: Context) -> None:
    """A link to a comparison of another corpus table switches the sidebar to that table (once)."""
    wanted = st.query_params.get("comparison")
    if not wanted:
        return
    everywhere = resources.stored_comparisons(ctx.uri, None)
    match = everywhere[everywhere["id"] == wanted]
    if match.empty:
        st.warning(
            f"The link names comparison `{escape_markdown(wanted)}`, which this workspace does not have: "
            "showing the newest comparison instead.",
            icon=":material/link_off:",
        )
        return
    table = str(match["table"].iloc[0])
    if table != ctx.table and st.session_state.get("compare.url_table") != wanted:
        st.session_state["compare.url_table"] = wanted
        st.session_state[SELECT_TABLE_KEY] = table
        st.rerun()


def follow_url(stored_ids: list[str]) -> None:
    """Open the comparison and query named in the URL (once per distinct URL), or a re-run's."""
    pending = st.session_state.pop(NEXT_KEY, None)
    if pending in stored_ids:
        st.session_state[SELECTED_KEY] = pending
    wanted = (st.query_params.get("comparison"), st.query_params.get("query"))
    if wanted == st.session_state.get("compare.url_applied"):
        return
    st.session_state["compare.url_applied"] = wanted
    if wanted[0] in stored_ids:
        st.session_state[SELECTED_KEY] = wanted[0]
        if wanted[1]:
            st.session_state[QUERY_KEY] = wanted[1]


def share_url(cmp: Comparison, query_id: str) -> None:
    """Write the open comparison and query into the URL (a link that reopens this view)."""
    st.query_params.update({"comparison": cmp.id, "query": query_id})
    st.session_state["compare.url_applied"] = (cmp.id, query_id)


def new_comparison(
    ctx: Context, columns: list[VectorColumn], production: str | None, eval_sets: list[str]
) -> None:
    """The form; the baseline defaults to production, also right after a promotion."""
    if st.session_state.get("compare.production_seen") != production:
        for key in PICKS:  # production moved: the old picks would no longer default to it
            st.session_state.pop(key, None)
        st.session_state["compare.production_seen"] = production
    by_name = {c.name: c for c in columns}
    with st.form("compare.form", border=False):
        c1, c2 = st.columns(2)  # half a row each: a model name with its fingerprint is not cut at 1280 px
        c3, c4 = st.columns(2)
        baseline, candidate = column_pair(
            (c1, c2), columns, production, keys=PICKS, labels=("Baseline (current)", "Candidate (new)")
        )
        eval_set = c3.selectbox("Eval set", eval_sets, key="compare.eval_set")
        ks = c4.multiselect("k", K_OPTIONS, default=[10, 100], key="compare.k", help="Metric cut-offs")
        run = st.form_submit_button("Run comparison", type="primary", icon=":material/play_arrow:")
    if run:
        with reported("Comparison"):
            n = len(load_eval_set(ctx.ws, eval_set).queries)
            result = compare(
                ctx.ws,
                baseline=alias_or_column(ctx.ws, by_name[baseline]),
                candidate=alias_or_column(ctx.ws, by_name[candidate]),
                eval_set=eval_set,
                table=ctx.table,
                k=ks,
                embedders={n: resources.embedder_for(by_name[n]) for n in (baseline, candidate)},
                on_progress=SidesProgress("Encoding and searching", n=n),
            )
            st.session_state[SELECTED_KEY] = result.id
            st.session_state.pop(QUERY_KEY, None)
            st.rerun()


def headline_tiles(cmp: Comparison) -> None:
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
    k, pq = m.shift_k, cmp.per_query
    cols = st.columns(5)
    if head:
        row = cmp.deltas.loc[head]
        cols[0].metric(
            f"{head} · {cand_label}",
            number(row["candidate"]),
            f"{number(row['delta'], signed=True)} {interval(row['ci_low'], row['ci_high'])}",
            help=f"{base_label}: {number(row['baseline'])}. Δ with its 95% interval "
            "(inverted sign-flip test).",
        )
        cols[1].metric(
            "p-value (permutation)",
            p_value(row["p_permutation"]),
            help=f"Paired t-test: {p_text(row['p_ttest'])}",
        )
        cols[2].metric(
            "Better / worse",
            f"{row['wins']:.0f} / {row['losses']:.0f}",
            f"{row['ties']:.0f} tied",
            delta_color="off",
            delta_arrow="off",
            help=f"Queries where {head} went up / down; the rest tied.",
        )
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


def metrics_tab(ctx: Context, cmp: Comparison) -> None:
    base_label, cand_label = sides(cmp)
    if cmp.deltas.empty:
        st.info("This eval set has no judged queries, so there are no labelled metrics.")
        query_chart(cmp)
        return
    view = metric_table(cmp)
    st.dataframe(
        view.style.map(style_delta, subset=["delta"]).format(
            {
                "baseline": number,
                "candidate": number,
                "delta": lambda x: number(x, signed=True),
                "mde": lambda x: f"±{number(x)}",
                "p_ttest": p_value,
                "p_permutation": p_value,
                "p_holm": p_value,
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
            "ci": st.column_config.TextColumn("95% interval"),
            "p_ttest": st.column_config.NumberColumn("p (t-test)"),
            "p_permutation": st.column_config.NumberColumn("p (permutation)"),
            "p_holm": st.column_config.NumberColumn(
                "p (Holm)", help="The primary metric (nDCG@10) as is, the others Holm-adjusted"
            ),
            "wtl": st.column_config.TextColumn("Better / tied / worse", width=150),
            "mde": st.column_config.TextColumn("MDE", help="Smallest Δ detectable with power 0.8"),
        },
    )
    st.caption(
        "Δ = candidate − baseline, paired per query. Interval: every shift the sign-flip test does "
        "not reject, so it excludes 0 exactly when p < 0.05. "
        "MDE: the smallest difference this many judged queries can detect reliably."
    )
    judged = cmp.judged()
    if not judged.empty:
        st.markdown("##### Judged@k: how much of each top k the qrels can speak about")
        percent = {"format": "%.1f%%"}
        st.dataframe(
            judged.assign(**{c: judged[c] * 100 for c in ("baseline", "candidate", "gap")}),
            hide_index=True,
            width=520,
            column_config={
                "k": st.column_config.NumberColumn("k", width=50),
                "baseline": st.column_config.NumberColumn(base_label, **percent),
                "candidate": st.column_config.NumberColumn(cand_label, **percent),
                "gap": st.column_config.NumberColumn("Gap", **percent),
            },
        )
        st.caption(
            "Share of each top k that has a judgement (any grade), mean over judged queries. A "
            "candidate much less judged than the baseline is scored on holes: judge its new "
            "documents in the drill-down below."
        )
    st.plotly_chart(resources.figure(ctx.uri, cmp.id, "metric_deltas"), width="stretch")
    segment_table(cmp)
    query_chart(cmp)


def distributions_tab(ctx: Context, cmp: Comparison) -> None:
    base_label, cand_label = sides(cmp)
    k = cmp.manifest.shift_k
    st.plotly_chart(resources.figure(ctx.uri, cmp.id, "score_overlay"), width="stretch")
    st.caption(
        f"Cosine scores of the top {k} results per query. The two models' scales differ "
        f"(KS distance {cmp.ks.statistic:.3f}): a similarity threshold cannot be reused as is."
    )
    if cmp.manifest.n_judged:
        auc = cmp.separation().set_index("side")["auc"]
        a, b = st.columns(2)
        a.metric(f"Separation AUC · {base_label}", f"{auc['baseline']:.2f}")
        b.metric(
            f"Separation AUC · {cand_label}",
            f"{auc['candidate']:.2f}",
            number(auc["candidate"] - auc["baseline"], 2, signed=True),
            help="ROC AUC of relevant vs other top-k results by score: 1 = a threshold separates "
            "them perfectly, 0.5 = chance. Can you still threshold this model's scores?",
        )
        st.plotly_chart(resources.figure(ctx.uri, cmp.id, "score_histograms"), width="stretch")
    st.markdown("##### Threshold translation")
    st.caption("Quantile mapping: the new cutoff keeps the same share of top-k results as the old one did.")
    thresholds = cmp.thresholds.assign(share_kept=cmp.thresholds["share_kept"] * 100)
    st.dataframe(
        thresholds[["old_cutoff", "share_kept", "new_cutoff"]],
        hide_index=True,
        width=520,
        column_config={
            "old_cutoff": st.column_config.NumberColumn(f"{base_label} cutoff", format="%.3f"),
            "share_kept": st.column_config.NumberColumn("Results kept", format="%.1f%%"),
            "new_cutoff": st.column_config.NumberColumn(f"{cand_label} cutoff", format="%.3f"),
        },
    )


def shifts_tab(ctx: Context, cmp: Comparison) -> None:
    k, pq = cmp.manifest.shift_k, cmp.per_query
    left, right = st.columns(2, gap="large")
    left.plotly_chart(resources.figure(ctx.uri, cmp.id, "overlap_histogram"), width="stretch")
    with right:
        st.markdown(f"##### Queries whose top {k} moved most")
        moved = pq.sort_values(["rbo", "query_id"]).head(10).reset_index(drop=True)
        event = st.dataframe(
            moved[["query", f"overlap@{k}", "rbo", "n_entered", "n_left"]],
            hide_index=True,
            width="stretch",
            key=f"compare.moved.{cmp.id}",
            on_select="rerun",
            selection_mode="single-row",
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
        open_selected_row(event, moved, key=f"compare.moved.{cmp.id}")
    st.caption(
        "Label-free: overlap and rank-biased overlap (RBO) of the two top-k lists, on every query. "
        "Select a row to open that query's drill-down below."
    )


def open_selected_row(event: object, frame: pd.DataFrame, *, key: str) -> None:
    """A newly selected table row opens that row's query in the drill-down."""
    rows = list(getattr(getattr(event, "selection", None), "rows", None) or [])
    open_query(str(frame["query_id"].iloc[rows[0]]) if rows else None, key=key)


def picked_point(event: object) -> str | None:
    """The query id of the clicked point of :func:`charts.query_deltas` (its ``customdata[0]``)."""
    points = list(getattr(getattr(event, "selection", None), "points", None) or [])
    if not points:
        return None
    data = points[0].get("customdata")
    data = data[0] if isinstance(data, list | tuple) and data else data
    return html.unescape(str(data)) if data is not None else None


def open_query(picked: str | None, *, key: str) -> None:
    """A new pick of widget ``key`` sets the drill-down query; an unchanged pick does nothing.

    A chart or table keeps its selection across reruns, so only a change is the user's click:
    a query chosen since in the drill-down's own box is not overridden by an old selection.
    """
    if picked and st.session_state.get(f"{key}.applied") != picked:
        st.session_state[QUERY_KEY] = picked
    st.session_state[f"{key}.applied"] = picked


def query_chart(cmp: Comparison) -> None:
    """Per-query scatter; clicking a point opens that query's drill-down."""
    key = f"compare.points.{cmp.id}"
    # Built on every run, not taken from the figure cache: the chart's widget id hashes its spec,
    # and a cached figure's first (original) and later (unpickled) copies serialise their layout
    # keys in a different order — the id would change under the click and the selection be lost.
    event = st.plotly_chart(
        charts.query_deltas(cmp),
        width="stretch",
        key=key,
        on_select="rerun",
        selection_mode="points",
    )
    open_query(picked_point(event), key=key)
    st.caption("One point per query. Click a point to open that query's [drill-down](#drill-down) below.")


def drilldown(ctx: Context, cmp: Comparison) -> str:
    """One query: metrics, judged@k, both top lists, judging and the rank-shift chart."""
    base_label, cand_label = sides(cmp)
    head, k = headline(cmp), cmp.manifest.shift_k
    queries = segment_filter(cmp, ordered_queries(cmp))
    qids = queries["query_id"].tolist()
    qlabels = {r["query_id"]: query_label(r, head) for _, r in queries.iterrows()}
    if st.session_state.get(QUERY_KEY) not in qids:
        st.session_state[QUERY_KEY] = qids[0]
    st.selectbox("Query (worst regressions first)", qids, key=QUERY_KEY, format_func=lambda q: qlabels[q])
    qid = str(st.session_state[QUERY_KEY])
    st.markdown(f"**“{escape_markdown(cmp.query_text(qid))}”** · {escape_markdown(qid)}")  # untrusted text
    per_query = query_metrics(cmp, qid)
    row = cmp.per_query.set_index("query_id").loc[qid]
    judged = [row.get(f"judged@{k}_{side}") for side in ("baseline", "candidate")]
    tiles = min(len(per_query), 5) + (1 if judged[0] is not None and judged[0] == judged[0] else 0)
    if tiles:
        slots = iter(st.columns(tiles))
        for _, r in per_query.head(5).iterrows():
            flat = abs(r["delta"]) < 1e-9
            next(slots).metric(
                r["metric"],
                number(r["candidate"]),
                "±0" if flat else number(r["delta"], signed=True),
                delta_color="off" if flat else "normal",
                help=f"{base_label}: {number(r['baseline'])} → {cand_label}: {number(r['candidate'])}",
            )
        if judged[0] is not None and judged[0] == judged[0]:
            next(slots).metric(
                f"Judged@{k}",
                f"{judged[1]:.0%}",
                f"{judged[1] - judged[0]:+.0%}",
                delta_color="off",
                help=f"{base_label}: {judged[0]:.0%} of its top {k} judged → {cand_label}: {judged[1]:.0%}",
            )
    else:
        st.caption("Unjudged query: rank changes only.")
    with st.expander("Rank-shift chart", expanded=False, icon=":material/swap_vert:"):
        st.plotly_chart(charts.rank_shift(cmp, qid), width="stretch", key="compare.slope")
    render_side_by_side(
        cmp.drilldown(qid), k=k, baseline_label=base_label, candidate_label=cand_label, key="compare.drill"
    )
    judge_box(ctx, cmp, qid, selected_key=NEXT_KEY)
    return qid
