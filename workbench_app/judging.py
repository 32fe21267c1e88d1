"""Judging in the drill-down: grade the unjudged documents of one query, then re-run.

The grades become the next version of the comparison's eval set (who, when); the stored
comparison keeps pointing at the version it ran on, and one click re-runs it on the new one.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from workbench import add_judgements, rerun_comparison
from workbench_app import resources
from workbench_app.ui import SidesProgress, reported

if TYPE_CHECKING:
    from workbench import Comparison
    from workbench_app.context import Context

GRADES = {0: "0 · not relevant", 1: "1 · relevant", 2: "2 · highly relevant"}
SAVED_KEY = "judge.saved"
AUTHOR_KEY = "judge.author"


def judge_box(ctx: Context, cmp: Comparison, query_id: str, *, selected_key: str) -> None:
    """Grade buttons with the text of every unjudged document of ``query_id``'s two top lists."""
    pool = cmp.unjudged(query_id)
    saved = st.session_state.get(SAVED_KEY)
    if saved and saved["comparison"] == cmp.id:
        _rerun_offer(ctx, cmp, saved, selected_key=selected_key)
    label = f"Judge the {len(pool)} unjudged document(s) of this query"
    with st.expander(label, expanded=False, icon=":material/gavel:"):  # long: open when asked
        if pool.empty:
            st.caption("Every document in both top lists of this query has a judgement.")
            return
        st.caption(
            "Qrels pooled from the old system leave holes where the new model differs: these "
            "documents are in a top list but nobody judged them, so the metrics count them as "
            f"misses. Your grades become a new version of eval set **{cmp.manifest.eval_set}**; "
            "this comparison stays reproducible on the version it ran on."
        )
        texts = resources.document_texts(ctx.uri, cmp.manifest.table, ctx.version, tuple(pool["doc_id"]))
        grades: dict[str, int] = {}
        for row in pool.itertuples(index=False):
            ranks = " · ".join(
                f"{side} #{int(rank)}"
                for side, rank in (("baseline", row.baseline_rank), ("candidate", row.candidate_rank))
                if not pd.isna(rank)
            )
            st.markdown(f"**{row.title or row.doc_id}** · `{row.doc_id}` · {ranks}")
            st.text(texts.get(row.doc_id, ""))
            grade = st.segmented_control(
                "Grade",
                list(GRADES),
                format_func=GRADES.__getitem__,
                key=f"judge.{cmp.id}.{query_id}.{row.doc_id}",
                label_visibility="collapsed",
            )
            if grade is not None:
                grades[str(row.doc_id)] = int(grade)
        st.session_state.setdefault(AUTHOR_KEY, _default_author())
        author = st.text_input("Judged by", key=AUTHOR_KEY)
        if st.button(
            f"Save {len(grades)} judgement(s)",
            key="judge.save",
            type="primary",
            icon=":material/save:",
            disabled=not grades,
        ):
            with reported("Saving judgements"):
                result = add_judgements(
                    ctx.ws,
                    cmp.manifest.eval_set,
                    {query_id: grades},
                    author=author,
                    note=f"judged in the app from comparison {cmp.id}",
                )
                st.session_state[SAVED_KEY] = {"comparison": cmp.id, "message": result.message}
                st.rerun()


def _rerun_offer(ctx: Context, cmp: Comparison, saved: dict[str, str], *, selected_key: str) -> None:
    name = cmp.manifest.eval_set
    version = next((s["version"] for s in resources.eval_sets(ctx.uri, None) if s["name"] == name), "")
    st.success(saved["message"], icon=":material/task_alt:")
    if st.button(
        f"Re-run this comparison on {name} v{version}",
        key="judge.rerun",
        type="primary",
        icon=":material/replay:",
    ):
        with reported("Re-running the comparison"):
            columns = {c.name: c for c in ctx.ws.vector_columns(ctx.ws.table(cmp.manifest.table))}
            sides = (cmp.manifest.baseline_column, cmp.manifest.candidate_column)
            fresh = rerun_comparison(
                ctx.ws,
                cmp,
                embedders={n: resources.embedder_for(columns[n]) for n in sides if n in columns},
                on_progress=SidesProgress("Encoding and searching", n=cmp.manifest.n_queries),
            )
            st.session_state.pop(SAVED_KEY, None)
            st.session_state[selected_key] = fresh.id
            st.rerun()


def _default_author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
