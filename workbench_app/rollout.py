"""The Promote page's serving section: the rollout in force, its steps, shadow agreement, recent swaps.

``workbench serve`` follows the same records this section writes and reads: the ``production``
tag (the Promote section above) and the rollout record (shadow, canary, abort). Starting a step
here validates the candidate exactly as ``workbench rollout`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from workbench import abort_rollout, history, shadow_report, start_canary, start_shadow
from workbench.production.history import MOVES
from workbench.production.rollout import current_rollout, start_progressive
from workbench.production.shadow import read_shadow_log
from workbench.store.rollouts import rollout_steps
from workbench_app.ui import reported, short_column, short_columns_in

if TYPE_CHECKING:
    from workbench_app.context import Context

__all__ = ["live_evidence", "rollout_section", "shadow_chart"]

_DONE = "rollout.done"


def rollout_section(ctx: Context, production_column: str | None, names: dict[str, str]) -> None:
    """Which column answers, the rollout percent, shadow agreement over time, recent swaps."""
    st.subheader("Serving and live rollout")
    st.caption(
        "`workbench serve` answers from production and follows these records within seconds: a "
        "**shadow** runs a sample of live queries against a candidate off the request path and "
        "compares the answers; a **canary** answers a sticky share of users (by `X-User-Id`) from it."
    )
    if _DONE in st.session_state:
        st.success(st.session_state.pop(_DONE), icon=":material/task_alt:")
    if production_column is None:
        st.caption("A rollout needs a production column first.")
        return
    active = current_rollout(ctx.ws, ctx.table)
    c1, c2, c3 = st.columns(3)
    c1.metric("Production answers", short_column(production_column, names))
    if active is None:
        c2.metric("Rollout", "none")
        c3.metric("Candidate share", "0 %")
    else:
        c2.metric(
            "Rollout", f"{active.action} of {short_column(active.candidate, names)}", help=active.message
        )
        share = (
            f"{active.percent:g} % of traffic"
            if active.action == "canary"
            else f"{active.sample:.0%} shadowed"
        )
        c3.metric("Candidate share", share)
    _controls(ctx, production_column, names, active is not None)
    _evidence(ctx, names)
    _recent(ctx, names)


def _controls(ctx: Context, production_column: str, names: dict[str, str], active: bool) -> None:
    candidates = [
        c.name for c in ctx.ws.vector_columns(ctx.ws.table(ctx.table)) if c.name != production_column
    ]
    if not candidates:
        st.caption("Embed a candidate model on the **Migrate** page to roll it out.")
        return
    with st.expander("Start or change a rollout", expanded=False):
        candidate = st.selectbox(
            "Candidate", candidates, format_func=lambda c: short_column(c, names), key="rollout.candidate"
        )
        mode = st.radio("Mode", ["shadow", "canary", "progressive"], horizontal=True, key="rollout.mode")
        merge: object = "rrf"
        if mode == "progressive":
            amount = 0.0
            merge = st.radio(
                "Merge both models' results",
                ["rrf", "calibrated"],
                horizontal=True,
                key="rollout.merge",
                help="Transition search while the candidate's column fills: reciprocal rank fusion, or each "
                "model's scores mapped to quantiles.",
            )
        elif mode == "shadow":
            amount = st.slider("Share of live queries shadowed", 0.05, 1.0, 0.2, 0.05, key="rollout.sample")
        else:
            amount = st.number_input(
                "Share of traffic (%)",
                min_value=0.5,
                max_value=99.5,
                value=5.0,
                step=0.5,
                key="rollout.percent",
            )
        reason = st.text_input(
            "Reason", key="rollout.reason", placeholder="e.g. shadow for a week before the canary"
        )
        if st.button(f"Start {mode}", key="rollout.start", type="primary"):
            with reported(f"Rollout {mode}"):
                if mode == "progressive":
                    step = start_progressive(
                        ctx.ws, ctx.table, candidate, merge=str(merge), reason=reason.strip()
                    )
                elif mode == "shadow":
                    step = start_shadow(
                        ctx.ws, ctx.table, candidate, sample=float(amount), reason=reason.strip()
                    )
                else:
                    step = start_canary(
                        ctx.ws, ctx.table, candidate, percent=float(amount), reason=reason.strip()
                    )
                st.session_state[_DONE] = short_columns_in(step.message, names)
                st.rerun()
    if active and st.button(
        "Abort the rollout: all traffic to production", key="rollout.abort", icon=":material/undo:"
    ):
        with reported("Abort"):
            step = abort_rollout(ctx.ws, ctx.table, reason="aborted from the app")
            if step is not None:
                st.session_state[_DONE] = step.message
            st.rerun()


def _evidence(ctx: Context, names: dict[str, str]) -> None:
    report = shadow_report(ctx.ws, ctx.table)
    if not report.queries:
        return
    overlap, rbo = report.agreement["overlap"], report.agreement["rbo"]
    st.markdown(
        f"**Shadow evidence** — {short_column(report.candidate, names)} vs production on "
        f"{report.queries:,} live queries: overlap@k {overlap['mean']:.3f} "
        f"[{overlap['ci_low']:.3f}, {overlap['ci_high']:.3f}], RBO {rbo['mean']:.3f} "
        f"[{rbo['ci_low']:.3f}, {rbo['ci_high']:.3f}]; latency p50 "
        f"{report.latency_ms['production']['p50']:.1f} ms (production) vs "
        f"{report.latency_ms['candidate']['p50']:.1f} ms (candidate)."
    )
    data = read_shadow_log(ctx.ws, ctx.table, candidate=report.candidate)
    st.plotly_chart(shadow_chart(data.select(["at", "overlap", "rbo"]).to_pandas()), width="stretch")


def shadow_chart(frame: pd.DataFrame, *, window: int = 50) -> go.Figure:
    """Agreement of candidate and production over time: per-query points and a rolling mean."""
    frame = frame.sort_values("at")
    figure = go.Figure()
    for column, label, colour in (("overlap", "overlap@k", "#0072B2"), ("rbo", "RBO", "#E69F00")):
        figure.add_trace(
            go.Scatter(
                x=frame["at"],
                y=frame[column],
                mode="markers",
                name=f"{label} (per query)",
                marker={"color": colour, "size": 4, "opacity": 0.35},
            )
        )
        rolling = frame[column].rolling(window, min_periods=1).mean()
        figure.add_trace(
            go.Scatter(
                x=frame["at"],
                y=rolling,
                mode="lines",
                name=f"{label} (mean of {window})",
                line={"color": colour, "width": 2},
            )
        )
    figure.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis={"range": [0, 1.02], "title": "agreement"},
        legend={"orientation": "h", "y": 1.12},
    )
    return figure


def _recent(ctx: Context, names: dict[str, str]) -> None:
    moves = [r for r in history(ctx.ws, ctx.table) if r.action in MOVES][-5:]
    steps = rollout_steps(ctx.ws, ctx.table)[-5:]
    rows = [{"when": r.at[:16].replace("T", " "), "what": short_columns_in(r.message, names)} for r in moves]
    rows += [{"when": f"{s.at:%Y-%m-%d %H:%M}", "what": short_columns_in(s.message, names)} for s in steps]
    if rows:
        st.markdown("**Recent swaps and rollout steps** (the service follows each within its interval)")
        frame = pd.DataFrame(rows).sort_values("when", ascending=False)
        st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            column_config={"what": st.column_config.TextColumn(width="large")},
        )


def live_evidence(ctx: Context, candidate: str) -> None:
    """One line of the shadow's live evidence on ``candidate``, when it ran in the shadow."""
    report = shadow_report(ctx.ws, ctx.table, candidate=candidate)
    if not report.queries:
        return
    overlap, rbo = report.agreement["overlap"], report.agreement["rbo"]
    st.info(
        f"**Live evidence (shadow):** on {report.queries:,} live queries the candidate's top k overlaps "
        f"production's by {overlap['mean']:.3f} [{overlap['ci_low']:.3f}, {overlap['ci_high']:.3f}], "
        f"RBO {rbo['mean']:.3f} — label-free agreement, not quality; see the Promote page.",
        icon=":material/sensors:",
    )
