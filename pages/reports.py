"""Reports: download any stored comparison as HTML, Markdown, JSON or per-query CSV."""

from __future__ import annotations

import streamlit as st

from workbench.formatting import p_value, without_negative_zero
from workbench_app import resources
from workbench_app.comparison_view import comparison_picker
from workbench_app.context import current
from workbench_app.shell import setup_page
from workbench_app.ui import require

SELECTED_KEY = "reports.comparison"
FORMATS = {
    "html": ("HTML", "text/html", ":material/language:", "Self-contained page with charts; opens offline."),
    "md": ("Markdown", "text/markdown", ":material/article:", "Paste into a pull request or an issue."),
    "json": ("JSON", "application/json", ":material/data_object:", "Every number, for CI and dashboards."),
    "csv": ("CSV", "text/csv", ":material/table:", "One row per query: metrics per side and rank shifts."),
}

setup_page()
ctx = current()
st.title("Reports")
st.caption(
    "Every comparison is stored with the exact table version, model pins, eval-set hash and "
    "library versions it ran on, so its report can be reproduced and audited later."
)
stored = resources.stored_comparisons(ctx.uri, ctx.table)
require(not stored.empty, "No comparison of this table yet: run one on the **Compare** page.")
cmp_id = comparison_picker(stored, key=SELECTED_KEY)

cols = st.columns(len(FORMATS))
for col, (fmt, (name, mime, icon, help_text)) in zip(cols, FORMATS.items(), strict=True):
    with col, st.container(border=True):
        st.markdown(f"**{name}**")
        st.caption(help_text)
        st.download_button(
            f"Download .{fmt}",
            data=lambda fmt=fmt: resources.report(ctx.uri, cmp_id, fmt),
            file_name=f"{cmp_id}.{fmt}",
            mime=mime,
            icon=icon,
            key=f"reports.download.{fmt}",
            on_click="ignore",
            width="stretch",
        )

with st.expander(f"All {len(stored)} stored comparisons of {ctx.table}", icon=":material/list:"):
    listed = without_negative_zero(
        stored[
            ["id", "created_at", "baseline", "candidate", "eval_set", "headline_metric", "delta", "p_value"]
        ]
    )
    st.dataframe(
        listed.assign(p_value=listed["p_value"].map(p_value)),
        hide_index=True,
        width="stretch",
        column_config={
            "id": st.column_config.TextColumn("Id"),
            "created_at": st.column_config.TextColumn("Created"),
            "baseline": st.column_config.TextColumn("Baseline"),
            "candidate": st.column_config.TextColumn("Candidate"),
            "eval_set": st.column_config.TextColumn("Eval set"),
            "headline_metric": st.column_config.TextColumn("Metric"),
            "delta": st.column_config.NumberColumn("Δ", format="%+.3f"),
            "p_value": st.column_config.TextColumn("p"),
        },
    )

st.subheader("Preview")
with st.container(border=True, height=560):
    st.markdown(resources.report(ctx.uri, cmp_id, "md"))
