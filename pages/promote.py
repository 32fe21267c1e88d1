"""Promote: the gate's verdict on a comparison, one-click promotion (confirmed), rollback, audit."""

from __future__ import annotations

import streamlit as st

from workbench import check_gate, promote, rollback
from workbench_app import lifecycle, resources, rollout
from workbench_app.comparison_view import comparison_picker
from workbench_app.context import current
from workbench_app.shell import setup_page
from workbench_app.ui import model_short, reported, require, short_column, short_columns_in

SELECTED_KEY = "promote.comparison"
CONFIRM_KEY = "promote.confirming"
ROLLBACK_KEY = "promote.rolling_back"
DONE_KEY = "promote.done"

setup_page()
ctx = current()
table = ctx.ws.table(ctx.table)
prod, prod_model = lifecycle.production_summary(ctx.ws, table)
target = lifecycle.rollback_target(ctx.ws, table, prod)

st.title("Promote")
st.caption(
    "Production is a LanceDB tag on a table version that names the active vector column: "
    "promoting writes one metadata-only version and moves the tag (no data is copied); rolling "
    "back moves it back, instantly. Every move is audited."
)
if DONE_KEY in st.session_state:
    st.success(st.session_state.pop(DONE_KEY), icon=":material/task_alt:")
    for used in ("promote.reason", "promote.force", "promote.rollback_reason"):  # that move's, not the next's
        st.session_state.pop(used, None)

c1, c2, c3 = st.columns([2, 1, 1])
c1.metric("Production model", prod_model, help=prod.column if prod else None)
c2.metric(
    "Production version", f"v{prod.version}" if prod else "—", help=f"Latest table version: v{ctx.version}"
)
c3.metric(
    "Rollback target",
    f"v{target[0]}" if target else "—",
    help="The version production pointed at before its last move."
    if target
    else "Nothing to roll back to yet.",
)

if prod is None:
    st.info(
        f"Table **{ctx.table}** has no production column yet. Record what search serves **today** — "
        "usually the *old* model — as the initial production (no comparison needed), then promote "
        "the new model through a comparison on the **Compare** page, so the gate checks it.",
        icon=":material/info:",
    )
    columns = {c.name: c for c in ctx.ws.vector_columns(table)}
    require(columns, "Embed the corpus with a pinned model on the **Migrate** page first.")
    names = lifecycle.model_names(ctx.ws, table)
    oldest = sorted(columns, key=lambda n: columns[n].created_at or "")  # the old model was embedded first
    first = st.selectbox(
        "Column serving today",
        oldest,
        key="promote.initial_column",
        format_func=lambda n: short_column(n, names),
        help="The initial production skips the gate: pick the model search uses now, not the new one.",
    )
    if len(oldest) > 1 and first != oldest[0]:
        st.warning(
            f"**{short_column(first, names)}** was embedded after **{short_column(oldest[0], names)}**: "
            "making the newer model the initial production skips the gate. Prefer the old one, and "
            "promote the new one through a comparison.",
            icon=":material/warning:",
        )
    if st.button("Make it production", key="promote.initial", type="primary", icon=":material/flag:"):
        with reported("Promotion"):
            record = promote(ctx.ws, ctx.table, first, initial=True, reason="initial production (app)")
            st.session_state[DONE_KEY] = short_columns_in(record.message, names)
            st.rerun()
    st.stop()

rollout.rollout_section(ctx, prod.column, lifecycle.model_names(ctx.ws, table))

gate_col, action_col = st.columns([3, 2], gap="large")
stored = resources.stored_comparisons(ctx.uri, ctx.table)

with gate_col:
    st.subheader("Gate")
    require(not stored.empty, "No comparison of this table yet: run one on the **Compare** page first.")
    selected = comparison_picker(stored, key=SELECTED_KEY, label="Evidence: a stored comparison")
    cmp = resources.comparison(ctx.uri, selected)
    candidate = cmp.manifest.candidate_column
    candidate_model = model_short(str(cmp.manifest.candidate_pin.get("name", candidate)))
    st.caption(cmp.summary)
    verdict = None
    if candidate != prod.column:
        with reported("Evaluating the gate"):
            verdict = check_gate(ctx.ws, ctx.table, candidate, comparison=cmp)
    if candidate == prod.column:
        st.success(f"**{candidate_model}** is already production.", icon=":material/check_circle:")
    elif verdict is not None:
        if verdict.verdict == "GO":
            st.success(f"**GO**: **{candidate_model}** may be promoted.", icon=":material/verified:")
        elif verdict.verdict == "NO-GO":
            st.error(f"**NO-GO** for **{candidate_model}**. {verdict.summary}", icon=":material/block:")
        else:
            st.warning(
                f"**INCONCLUSIVE** for **{candidate_model}**. {verdict.summary}", icon=":material/help:"
            )
        marks = {
            "pass": ":green[:material/check_circle:]",
            "fail": ":red[:material/cancel:]",
            "undecided": ":orange[:material/help:]",
        }
        for check in verdict.checks:
            st.markdown(f"{marks[check.outcome]} **{check.name}** — {check.detail}")
        for note in verdict.notes:
            st.caption(note)

with action_col:
    st.subheader("Promote")
    can_promote = candidate != prod.column and verdict is not None
    force = st.toggle(
        "Override the gate (forced promotion)",
        key="promote.force",
        disabled=not can_promote or bool(verdict and verdict.passed),
        help="Promote although the gate says NO-GO or INCONCLUSIVE. The verdict and the reason are "
        "recorded in the audit history.",
    )
    reason = st.text_area(
        "Reason" + (" (required)" if force else " (optional)"),
        key="promote.reason",
        placeholder="e.g. nDCG@10 +0.17 on the demo eval set; approved in review #123",
        height=80,
    )
    allowed = can_promote and (bool(verdict and verdict.passed) or force)
    if st.button(
        f"Promote {candidate_model}…",
        key="promote.start",
        type="primary",
        icon=":material/rocket_launch:",
        disabled=not allowed,
    ):
        st.session_state[CONFIRM_KEY] = True
    if st.session_state.get(CONFIRM_KEY) and allowed:
        lifecycle.confirm_box(
            f"**Make {candidate_model} production of `{ctx.table}`?**  \n"
            f"Search will use `{candidate}` from the next request on; the current production "
            f"({prod_model}, v{prod.version}) stays one click away via rollback.",
            lambda: promote(
                ctx.ws, ctx.table, candidate, comparison=cmp.id, force=force, reason=reason.strip()
            ),
            names=lifecycle.model_names(ctx.ws, table),
            what="Promotion",
            open_key=CONFIRM_KEY,
            done_key=DONE_KEY,
            keys=("promote.confirm", "promote.cancel"),
            blocked="A forced promotion needs a reason." if force and not reason.strip() else None,
        )

    st.subheader("Roll back")
    if target is None:
        st.caption("There is no earlier production version to roll back to.")
    else:
        back_model = short_column(target[1], lifecycle.model_names(ctx.ws, table))
        st.caption(f"Move production back to v{target[0]} (**{back_model}**). No data is touched.")
        back_reason = st.text_area(
            "Rollback reason",
            key="promote.rollback_reason",
            placeholder="e.g. p95 latency doubled after the promotion; incident #42",
            height=68,
        )
        if st.button("Roll back…", key="promote.rollback", icon=":material/undo:"):
            st.session_state[ROLLBACK_KEY] = True
        if st.session_state.get(ROLLBACK_KEY):
            lifecycle.confirm_box(
                f"**Roll production of `{ctx.table}` back to v{target[0]} ({back_model})?**",
                lambda: rollback(ctx.ws, ctx.table, reason=back_reason.strip()),
                what="Rollback",
                open_key=ROLLBACK_KEY,
                done_key=DONE_KEY,
                keys=("promote.rollback_confirm", "promote.rollback_cancel"),
                names=lifecycle.model_names(ctx.ws, table),
            )

st.subheader("Audit history")
lifecycle.history_section(ctx)
