"""Side-by-side top-k tables: one query, two columns, rank changes and relevance marks.

Input is the frame of :meth:`workbench.comparisons.Comparison.drilldown` (doc_id, title,
grade, status, baseline_rank, baseline_score, candidate_rank, candidate_score, delta_rank);
the live query page builds the same shape from two live searches.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from workbench.shifts import moved_documents
from workbench_app.ui import relevance_mark

_GOOD = "color: #15803d; font-weight: 600"
_BAD = "color: #b91c1c; font-weight: 600"


def live_frame(baseline: pd.DataFrame, candidate: pd.DataFrame, titles: pd.Series, *, k: int) -> pd.DataFrame:
    """The drilldown shape from two live rankings (``rank, doc_id, score``), without grades."""
    frame = moved_documents(baseline["doc_id"].tolist(), candidate["doc_id"].tolist(), k=k)
    frame = frame.rename(
        columns={"old_rank": "baseline_rank", "new_rank": "candidate_rank", "delta": "delta_rank"}
    )
    for side, ranking in (("baseline", baseline), ("candidate", candidate)):
        frame[f"{side}_score"] = frame["doc_id"].map(ranking.set_index("doc_id")["score"])
    grades = pd.array([pd.NA] * len(frame), dtype="Int64")
    return frame.assign(title=frame["doc_id"].map(titles), grade=grades)


def _where_now(row: pd.Series) -> str:
    """For a baseline result: where the candidate put it."""
    new, delta = row["candidate_rank"], row["delta_rank"]
    if pd.isna(new):
        return "✖ dropped"
    if row["status"] == "left":
        return f"✖ out (#{int(new)})"
    if delta > 0:
        return f"▲ {int(delta)} → #{int(new)}"
    if delta < 0:
        return f"▼ {-int(delta)} → #{int(new)}"
    return "= same"


def _change(row: pd.Series) -> str:
    """For a candidate result: how it moved."""
    old, delta = row["baseline_rank"], row["delta_rank"]
    if pd.isna(old):
        return "✚ new"
    if row["status"] == "entered":
        return f"✚ from #{int(old)}"
    if delta > 0:
        return f"▲ {int(delta)}"
    if delta < 0:
        return f"▼ {-int(delta)}"
    return "="


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
            "Δ": top.apply(_change, axis=1),
            "Document": top.apply(_title, axis=1),
            "Rel": top["grade"].map(relevance_mark),
            "Score": top["candidate_score"],
        }
    )
    return view.style.map(_colour, subset=["Δ"]).format({"Score": "{:.3f}"})


def render_side_by_side(
    frame: pd.DataFrame, *, k: int, baseline_label: str, candidate_label: str, key: str
) -> None:
    """Two aligned top-k tables with rank changes, entered/dropped marks and relevance."""
    entered = int((frame["status"] == "entered").sum())
    left = int((frame["status"] == "left").sum())
    has_grades = bool(frame["grade"].notna().any())
    config = {
        "#": st.column_config.NumberColumn("#", width=40),
        "Document": st.column_config.TextColumn("Document", width="medium"),
        "Rel": st.column_config.TextColumn(
            "Rel", width=50, help="★ judged relevant (★★ highly relevant); empty = not judged relevant"
        ),
        "Score": st.column_config.NumberColumn("Cosine", format="%.3f", width=64),
    }
    hidden = [] if has_grades else ["Rel"]
    height = 35 * (min(k, len(frame)) + 1) + 3
    c1, c2 = st.columns(2, gap="medium")
    with c1:
        st.markdown(f"**Baseline** · {baseline_label}")
        st.dataframe(
            baseline_view(frame, k),
            hide_index=True,
            width="stretch",
            height=height,
            key=f"{key}.baseline",
            column_config={**config, "Candidate": st.column_config.TextColumn("In candidate", width=104)},
            column_order=[c for c in ("#", "Document", "Rel", "Score", "Candidate") if c not in hidden],
        )
    with c2:
        st.markdown(f"**Candidate** · {candidate_label}")
        st.dataframe(
            candidate_view(frame, k),
            hide_index=True,
            width="stretch",
            height=height,
            key=f"{key}.candidate",
            column_config={**config, "Δ": st.column_config.TextColumn("Δ rank", width=96)},
            column_order=[c for c in ("#", "Δ", "Document", "Rel", "Score") if c not in hidden],
        )
    st.caption(
        f"{entered} entered and {left} dropped out of the top {k}. ▲/▼ = moved up/down, "
        "✚ = entered the top k (from its old rank when known), ✖ = dropped out."
        + (" ★ = judged relevant." if has_grades else "")
    )
