"""Side-by-side top-k tables: one query, two columns, rank changes and relevance marks.

Input is the frame of :meth:`workbench.store.comparisons.Comparison.drilldown` (doc_id, title,
grade, status, baseline_rank, baseline_score, candidate_rank, candidate_score, delta_rank), or
of :func:`workbench.comparison.live.query_both`, which has the same shape.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from workbench_app.ui import relevance_mark

_GOOD = "color: #15803d; font-weight: 600"
_BAD = "color: #b91c1c; font-weight: 600"


def _where_now(row: pd.Series) -> str:
    """For a baseline result: where the candidate put it."""
    new, delta = row["candidate_rank"], row["delta_rank"]
    if pd.isna(new):
        return "✖ dropped"
    if row["status"] == "left":
        return f"✖ out (#{int(new)})"
    arrow = _arrow(delta)
    return f"{arrow} → #{int(new)}" if arrow else "= same"


def _change(row: pd.Series) -> str:
    """For a candidate result: how it moved."""
    old, delta = row["baseline_rank"], row["delta_rank"]
    if pd.isna(old):
        return "✚ new"
    if row["status"] == "entered":
        return f"✚ from #{int(old)}"
    return _arrow(delta) or "="


def _arrow(delta: object) -> str:
    """``▲ 3`` (moved up 3 places), ``▼ 2``, or empty when the rank did not change."""
    moved = int(delta)  # type: ignore[call-overload]
    if moved > 0:
        return f"▲ {moved}"
    return f"▼ {-moved}" if moved < 0 else ""


def _colour(value: object) -> str:
    text = str(value)
    if text.startswith(("▲", "✚")):
        return _GOOD
    if text.startswith(("▼", "✖")):
        return _BAD
    return "color: #6b7280"


def _title(row: pd.Series) -> str:
    title = row["title"]
    return str(title) if isinstance(title, str) and title else str(row["doc_id"])


def baseline_view(frame: pd.DataFrame, k: int) -> Styler:
    top = frame[frame["baseline_rank"] <= k].sort_values("baseline_rank")
    view = pd.DataFrame(
        {
            "#": top["baseline_rank"].astype(int),
            "Document": top.apply(_title, axis=1),
            "Rel": top["grade"].map(relevance_mark),
            "Score": top["baseline_score"],
            "Candidate": top.apply(_where_now, axis=1),
        }
    )
    return view.style.map(_colour, subset=["Candidate"]).format({"Score": "{:.3f}"})


def candidate_view(frame: pd.DataFrame, k: int) -> Styler:
    top = frame[frame["candidate_rank"] <= k].sort_values("candidate_rank")
    view = pd.DataFrame(
        {
            "#": top["candidate_rank"].astype(int),
            "Document": top.apply(_title, axis=1),
            "Rel": top["grade"].map(relevance_mark),
            "Score": top["candidate_score"],
            "Δ": top.apply(_change, axis=1),
        }
    )
    return view.style.map(_colour, subset=["Δ"]).format({"Score": "{:.3f}"})


def render_texts(frame: pd.DataFrame, texts: dict[str, str], *, k: int) -> None:
    """The text of every document in either top k, in an expander (titles alone hide too much)."""
    top = frame[(frame["baseline_rank"] <= k) | (frame["candidate_rank"] <= k)]
    with st.expander(f"Texts of the {len(top)} documents", icon=":material/article:"):
        for row in top.itertuples(index=False):
            ranks = " · ".join(
                f"{side} #{int(rank)}"
                for side, rank in (("baseline", row.baseline_rank), ("candidate", row.candidate_rank))
                if not pd.isna(rank) and rank <= k
            )
            title = _title(pd.Series(row._asdict()))
            st.markdown(f"**{title}** {relevance_mark(row.grade)} · `{row.doc_id}` · {ranks}")
            st.caption(texts.get(str(row.doc_id), ""))


def render_side_by_side(
    frame: pd.DataFrame, *, k: int, baseline_label: str, candidate_label: str, key: str
) -> None:
    """Two aligned top-k tables with rank changes, entered/dropped marks and relevance."""
    entered = int((frame["status"] == "entered").sum())
    left = int((frame["status"] == "left").sum())
    has_grades = bool(frame["grade"].notna().any())
    config = {
        "#": st.column_config.NumberColumn("#", width=34),
        # 200 px fits beside the others in half of a 1280 px screen; wider screens stretch it.
        "Document": st.column_config.TextColumn(
            "Document",
            width=200,
            help="Title; the full titles and texts are under “Texts of the … documents”",
        ),
        "Rel": st.column_config.TextColumn(
            "Rel", width=44, help="★ judged relevant (★★ highly relevant); empty = not judged relevant"
        ),
        "Score": st.column_config.NumberColumn("Cosine", format="%.3f", width=58),
        "Candidate": st.column_config.TextColumn("Candidate", width=90, help="Where the candidate ranks it"),
        "Δ": st.column_config.TextColumn("Δ rank", width=84),
    }
    hidden = [] if has_grades else ["Rel"]
    height = 35 * (min(k, len(frame)) + 1) + 3
    sides = (
        ("Baseline", baseline_label, baseline_view, ("#", "Document", "Rel", "Score", "Candidate")),
        ("Candidate", candidate_label, candidate_view, ("#", "Document", "Rel", "Score", "Δ")),
    )
    for slot, (side, label, view, order) in zip(st.columns(2, gap="medium"), sides, strict=True):
        with slot:
            st.markdown(f"**{side}** · {label}")
            st.dataframe(
                view(frame, k),
                hide_index=True,
                width="stretch",
                height=height,
                key=f"{key}.{side.lower()}",
                column_config=config,
                column_order=[c for c in order if c not in hidden],
            )
    st.caption(
        f"{entered} entered and {left} dropped out of the top {k}. ▲/▼ = moved up/down, "
        "✚ = entered the top k (from its old rank when known), ✖ = dropped out."
        + (" ★ = judged relevant." if has_grades else "")
    )
