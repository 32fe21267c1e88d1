"""Segments on the Compare page: the headline metric per segment, and the drill-down's segment filter.

Keys are namespaced ``compare.*``. Segments come from the eval set's query metadata (language,
topic, …) or, without metadata, from query length and the baseline's top-1 score.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from workbench.comparison.segments import describe_segments, segment_view
from workbench.metrics.segments import segment_column

if TYPE_CHECKING:
    from workbench import Comparison

__all__ = ["ALL", "SEGMENT_KEY", "segment_filter", "segment_options", "segment_table"]

SEGMENT_KEY = "compare.segment"
ALL = "all queries"


def segment_table(cmp: Comparison) -> None:
    """The headline metric per segment with its interval and Holm-adjusted p, and the sentence."""
    if cmp.segments.empty:
        return
    source = (
        "query metadata"
        if cmp.manifest.segment_source == "metadata"
        else "automatic: query length, baseline score"
    )
    st.markdown(f"##### Segments ({source})")
    st.markdown(describe_segments(cmp).replace("*", "\\*"))
    view = segment_view(cmp)
    view = view.assign(
        ci=[f"[{lo:+.3f}, {hi:+.3f}]" for lo, hi in zip(view["ci_low"], view["ci_high"], strict=True)]
    )
    st.dataframe(
        view[["key", "segment", "n", "baseline", "candidate", "delta", "ci", "p (Holm)"]],
        hide_index=True,
        key="compare.segments",
        column_config={
            "delta": st.column_config.NumberColumn("Δ", format="%+.3f"),
            "baseline": st.column_config.NumberColumn(format="%.3f"),
            "candidate": st.column_config.NumberColumn(format="%.3f"),
            "ci": st.column_config.TextColumn("95% interval"),
            "p (Holm)": st.column_config.NumberColumn(
                format="%.3f", help="Holm-adjusted across all the segments"
            ),
        },
    )


def segment_options(cmp: Comparison) -> list[str]:
    """``all queries`` and every ``key=value`` the comparison's queries fall into."""
    options = [ALL]
    for key in dict.fromkeys(cmp.segments["key"]):
        column = segment_column(str(key))
        if column in cmp.per_query.columns:
            values = cmp.segments.loc[cmp.segments["key"] == key, "segment"].drop_duplicates()
            options += [f"{key}={value}" for value in values]
    return options


def segment_filter(cmp: Comparison, queries: pd.DataFrame) -> pd.DataFrame:
    """The drill-down's queries, narrowed to the segment picked in a select box (all by default)."""
    options = segment_options(cmp)
    if len(options) == 1:
        return queries
    if st.session_state.get(SEGMENT_KEY) not in options:
        st.session_state[SEGMENT_KEY] = ALL
    picked = str(st.selectbox("Segment", options, key=SEGMENT_KEY))
    if picked == ALL:
        return queries
    key, _, value = picked.partition("=")
    column = segment_column(key)
    kept = queries[queries[column] == value] if column in queries.columns else queries
    return kept if not kept.empty else queries
