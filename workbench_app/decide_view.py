"""The Decide page's tables for people: model names, human headers, three decimals, signed deltas.

The library's frames keep machine columns (``ndcg@10_ci_low``, ``p_holm``, ``a``/``b``); these
helpers turn them into what a person reads at 1280 px without a horizontal scroll: a metric and
its 95% interval share one cell, numbers have three decimals, deltas a sign, no ``-0.000``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

__all__ = ["interval", "leaderboard_view", "metric_label", "pairs_view", "sweep_view", "tidy"]


def tidy(value: float) -> float:
    """``value`` rounded to three decimals, without a negative zero."""
    return float(round(float(value), 3)) + 0.0


def interval(low: float, high: float, *, signed: bool = False) -> str:
    """``[0.784, 0.884]`` (``[+0.093, +0.240]`` when signed), never ``-0.000``."""
    spec = "+.3f" if signed else ".3f"
    return f"[{tidy(low):{spec}}, {tidy(high):{spec}}]"


def with_interval(value: float, low: float, high: float, *, signed: bool = False) -> str:
    """``0.840 [0.784, 0.884]``."""
    return f"{tidy(value):{'+.3f' if signed else '.3f'}} {interval(low, high, signed=signed)}"


def metric_label(metric: str) -> str:
    """``ndcg@10`` → ``nDCG@10``, ``hit_rate@10`` → ``hit rate@10``."""
    name, _, k = metric.partition("@")
    human = {"ndcg": "nDCG", "mrr": "MRR", "map": "MAP"}.get(name, name.replace("_", " "))
    return f"{human}@{k}" if k else human


def p_text(value: float) -> str:
    """``<0.001`` below a thousandth, else three decimals."""
    if pd.isna(value):
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _num(label: str, fmt: str, help: str | None = None) -> object:
    return st.column_config.NumberColumn(label, format=fmt, help=help)


def _text(label: str, help: str | None = None, width: str | int | None = None) -> object:
    return st.column_config.TextColumn(label, help=help, width=width)  # type: ignore[arg-type]


def leaderboard_view(
    rows: pd.DataFrame, names: Mapping[str, str], metrics: list[str]
) -> tuple[pd.DataFrame, dict[str, object]]:
    """One row per candidate: model, each metric with its interval, then size and speed."""
    data: dict[str, list[object]] = {"Model": [names.get(c, c) for c in rows["column"]]}
    config: dict[str, object] = {
        "Model": _text("Model", "Alias · model (the one search serves today marked production)")
    }
    for metric in metrics:
        label = f"{metric_label(metric)} (95% CI)"
        data[label] = [
            with_interval(v, lo, hi)
            for v, lo, hi in zip(
                rows[metric], rows[f"{metric}_ci_low"], rows[f"{metric}_ci_high"], strict=True
            )
        ]
        config[label] = _text(
            label, f"Mean {metric} over the judged queries, with its BCa bootstrap 95% interval"
        )
    data["Bytes / vector"] = rows["bytes_per_vector"].astype(int).tolist()
    data["Query ms"] = rows["query_ms"].round(1).tolist()
    data["Embed docs/s"] = rows["embed_docs_per_s"].round(0).tolist()
    dims = ", ".join(sorted({f"{d}" for d in rows["dim"]}))
    config["Bytes / vector"] = _num(
        "Bytes / vector", "%d", f"float32: 4 bytes per dimension ({dims} dimensions)"
    )
    config["Query ms"] = _num("Query ms", "%.1f", "Mean time per query: encoding plus exact search")
    config["Embed docs/s"] = _num("Embed docs/s", "%.0f", "Documents embedded per second, on a sample")
    if rows["price_per_million"].notna().any():
        data["$ / 1M tokens"] = rows["price_per_million"].tolist()
        data["Corpus cost $"] = rows["corpus_cost"].tolist()
        config["$ / 1M tokens"] = _num("$ / 1M tokens", "%.3f")
        config["Corpus cost $"] = _num("Corpus cost $", "%.3f", "Price of embedding the whole corpus once")
    return pd.DataFrame(data), config


def pairs_view(pairs: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, object]]:
    """One row per pair and metric: “B − A”, the signed delta with its interval, p before and after Holm."""
    frame = pd.DataFrame(
        {
            "Pair": [f"{b} − {a}" for a, b in zip(pairs["a"], pairs["b"], strict=True)],
            "Metric": [metric_label(m) for m in pairs["metric"]],
            "Δ (95% CI)": [
                with_interval(d, lo, hi, signed=True)
                for d, lo, hi in zip(pairs["delta"], pairs["ci_low"], pairs["ci_high"], strict=True)
            ],
            "p": [p_text(p) for p in pairs["p"]],
            "p (Holm)": [p_text(p) for p in pairs["p_holm"]],
            "Significant": pairs["significant"].astype(bool).tolist(),
        }
    )
    config = {
        "Pair": _text("Pair", "The difference: first model − second, paired per query", "medium"),
        "Δ (95% CI)": _text("Δ (95% CI)", "Mean paired difference; interval by inverting the sign-flip test"),
        "p": _text("p", "Paired sign-flip permutation test"),
        "p (Holm)": _text("p (Holm)", "Holm-adjusted over every pair of this metric"),
        "Significant": st.column_config.CheckboxColumn("Significant", help="p (Holm) below alpha"),
    }
    return frame, config


def sweep_view(points: pd.DataFrame, metrics: list[str]) -> tuple[pd.DataFrame, dict[str, object]]:
    """One row per dimension: bytes, each metric with its interval, the first one's change from full."""
    head = metrics[0]
    data: dict[str, list[object]] = {
        "Dimensions": points["dim"].astype(int).tolist(),
        "Bytes / vector": points["bytes_per_vector"].astype(int).tolist(),
    }
    config: dict[str, object] = {"Bytes / vector": _num("Bytes / vector", "%d")}
    for metric in metrics:
        label = f"{metric_label(metric)} (95% CI)"
        data[label] = [
            with_interval(v, lo, hi)
            for v, lo, hi in zip(
                points[metric], points[f"{metric}_ci_low"], points[f"{metric}_ci_high"], strict=True
            )
        ]
        config[label] = _text(label)
        if metric == head:
            data["Δ vs full"] = [tidy(v) for v in points[f"{metric}_delta"]]
            data["p"] = [p_text(p) for p in points[f"{metric}_p"]]
            config["Δ vs full"] = _num("Δ vs full", "%+.3f", f"{metric} at this size − at the full dimension")
            config["p"] = _text("p", "Paired sign-flip test against the full dimension")
    data["Retained"] = (100 * points["retained"]).round(1).tolist()
    config["Retained"] = _num("Retained", "%.1f%%", f"{head} kept, relative to the full dimension")
    return pd.DataFrame(data), config
