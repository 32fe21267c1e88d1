"""Presentation of stored comparisons: a picker, labels, ordered queries, display frames."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from workbench import Comparison, Workspace
from workbench.formatting import interval, number
from workbench.metrics.multiple import adjusted_p
from workbench.store.workspace import VectorColumn
from workbench_app.ui import model_short


def alias_or_column(ws: Workspace, column: VectorColumn) -> str:
    """The workspace alias that pins ``column``'s exact model, else the column name."""
    for alias, ref in sorted(ws.config.all_models().items()):
        if ref.column == column.name and ref.fingerprint == column.ref.fingerprint:
            return alias
    return column.name


def sides(cmp: Comparison) -> tuple[str, str]:
    """Short labels of the two sides: the alias the user asked for, else the model name."""
    m = cmp.manifest
    base = m.baseline_label or model_short(str(m.baseline_pin.get("name", m.baseline_column)))
    cand = m.candidate_label or model_short(str(m.candidate_pin.get("name", m.candidate_column)))
    return base, cand


def list_label(row: pd.Series) -> str:
    """One line per stored comparison for a picker."""
    head = row["headline_metric"]
    delta = row["delta"]
    shown = (
        f" · {head} {number(delta, signed=True)}"
        if head and isinstance(delta, float) and math.isfinite(delta)
        else ""
    )
    when = str(row["created_at"]).replace("T", " ")[:16]
    return f"{when} · {row['baseline']} → {row['candidate']} · {row['eval_set']}{shown}"


def comparison_picker(stored: pd.DataFrame, *, key: str, label: str = "Comparison") -> str:
    """A selectbox over ``stored`` (newest first by default); returns the selected id."""
    ids = stored["id"].tolist()
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[0]
    labels = dict(zip(ids, stored.apply(list_label, axis=1), strict=True))
    st.selectbox(label, ids, key=key, format_func=lambda i: labels[i])
    return str(st.session_state[key])


def headline(cmp: Comparison) -> str | None:
    head = cmp.manifest.headline_metric
    return head if head and head in cmp.deltas.index else None


def metric_table(cmp: Comparison) -> pd.DataFrame:
    """The delta table for display: one row per metric, CI as text, Holm-adjusted p, W/T/L together."""
    d = cmp.deltas
    return pd.DataFrame(
        {
            "metric": d.index,
            "baseline": d["baseline"].to_numpy(),
            "candidate": d["candidate"].to_numpy(),
            "delta": d["delta"].to_numpy(),
            "ci": [interval(lo, hi) for lo, hi in zip(d["ci_low"], d["ci_high"], strict=True)],
            "p_ttest": d["p_ttest"].to_numpy(),
            "p_permutation": d["p_permutation"].to_numpy(),
            "p_holm": adjusted_p(d).to_numpy(),
            "wtl": [f"{w} / {t} / {lo}" for w, t, lo in zip(d["wins"], d["ties"], d["losses"], strict=True)],
            "mde": d["mde"].to_numpy(),
        }
    )


def ordered_queries(cmp: Comparison) -> pd.DataFrame:
    """Every query, worst first: by the headline delta when judged, then by rank overlap (RBO)."""
    pq = cmp.per_query
    head = headline(cmp)
    keys = ([f"{head}_delta"] if head else []) + ["rbo", "query_id"]
    return pq.sort_values(keys, na_position="last").reset_index(drop=True)


def query_label(row: pd.Series, head: str | None) -> str:
    text = str(row["query"])
    text = text if len(text) <= 70 else text[:67] + "…"
    delta = row.get(f"{head}_delta") if head else None
    if delta is not None and not pd.isna(delta):
        return f"{text}  ({head} {number(delta, signed=True)})"
    return f"{text}  (RBO {row['rbo']:.2f})"


def query_metrics(cmp: Comparison, query_id: str) -> pd.DataFrame:
    """Per-query metric values of both sides and their delta, one row per metric."""
    row = cmp.per_query.set_index("query_id").loc[query_id]
    rows = [
        {
            "metric": m,
            "baseline": row.get(f"{m}_baseline"),
            "candidate": row.get(f"{m}_candidate"),
            "delta": row.get(f"{m}_delta"),
        }
        for m in cmp.manifest.metrics
    ]
    return pd.DataFrame(rows).dropna(subset=["delta"])


def style_delta(value: object) -> str:
    if value is None or pd.isna(value) or not isinstance(value, int | float):
        return ""
    if value > 1e-9:
        return "color: #15803d; font-weight: 600"
    if value < -1e-9:
        return "color: #b91c1c; font-weight: 600"
    return "color: #6b7280"
