"""Monitoring over time, for people: a tidy frame of every signal value and a plotly time series.

:func:`monitor_frame` flattens the stored passes into one row per (pass, series);
:func:`monitor_figure` draws each series over time, one panel per signal, with the baseline
window as a shaded band, alarms as red markers, and the production moves of the history
(promotions, rollbacks, refreshes, retirements) as vertical lines on the same time axis.
:func:`promoting_comparison` finds the comparison that put the current production column in
place, so an alarm can link to the evidence it contradicts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from workbench.production.history import PromotionRecord

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.store.monitor_runs import MonitorRun

__all__ = ["PALETTE", "SERIES", "monitor_figure", "monitor_frame", "promoting_comparison"]


SERIES: dict[str, tuple[str, ...]] = {
    "eval": ("ndcg@10", "recall@10"),
    "scores": ("top1", "margin", "mean_topk"),
    "index_recall": ("recall@10",),
    "integrity": ("stale_latest", "missing_latest"),
}
"""The values plotted per signal (others are kept in the frame)."""
_COLUMNS = ["seq", "at", "signal", "series", "value", "status", "baseline", "reason"]


def monitor_frame(runs: Sequence[MonitorRun], baseline: Sequence[MonitorRun] = ()) -> pd.DataFrame:
    """One row per pass and plotted value: seq, at, signal, series, value, status, baseline, reason."""
    in_window = {r.seq for r in baseline}
    rows = [
        {
            "seq": run.seq,
            "at": pd.Timestamp(run.at),
            "signal": signal.name,
            "series": name,
            "value": float(signal.values[name]),
            "status": signal.status,
            "baseline": run.seq in in_window,
            "reason": signal.reason,
        }
        for run in runs
        for signal in run.signals
        for name in SERIES.get(signal.name, ())
        if name in signal.values
    ]
    return pd.DataFrame(rows, columns=_COLUMNS)


# Okabe-Ito, vermilion kept for alarms: distinguishable with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000", "#999999", "#F0E442")
ALARM_COLOUR = "#D55E00"
_DASHES = ("solid", "dash", "dot")
_SYMBOLS = ("circle", "square", "diamond")
TITLES = {
    "eval": "Eval metrics",
    "scores": "Query–top-k cosine scores",
    "index_recall": "Index recall (ANN vs exact)",
    "integrity": "Stale and missing rows (count)",
}
"""Each signal's panel title."""
NAMES = {
    ("scores", "top1"): "top-1 score",
    ("scores", "margin"): "margin (top-1 − top-10)",
    ("scores", "mean_topk"): "mean top-10 score",
    ("index_recall", "recall@10"): "index recall@10",
    ("integrity", "stale_latest"): "stale rows",
    ("integrity", "missing_latest"): "missing rows",
}
"""Legend names (others: the series' own name)."""
COUNTS = frozenset({"integrity"})
"""Signals whose values are counts: an integer axis from 0."""


def monitor_figure(
    runs: Sequence[MonitorRun], events: Sequence[PromotionRecord] = (), baseline: Sequence[MonitorRun] = ()
) -> go.Figure:
    """Each signal's series over time: baseline band, alarm markers, production moves.

    One panel per signal; every series its own colour (Okabe-Ito) and, within a panel, its own
    dash and marker, so overlapping lines stay apart; counts on an integer axis from zero; the
    production moves as dotted lines with labels staggered so close ones do not overprint.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = monitor_frame(runs, baseline)
    signals = [s for s in SERIES if s in set(frame["signal"])] or ["eval"]
    figure = make_subplots(
        rows=len(signals),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[TITLES.get(s, s) for s in signals],
        vertical_spacing=0.12 if len(signals) > 1 else 0.0,
    )
    colour = 0
    for row, signal in enumerate(signals, start=1):
        groups = frame[frame["signal"] == signal].groupby("series", sort=False)
        for nth, (series, points) in enumerate(groups):
            name = NAMES.get((signal, str(series)), str(series))
            hue = PALETTE[colour % len(PALETTE)]
            number = ",d" if signal in COUNTS else ".3f"
            colour += 1
            _band(figure, points[points["baseline"]], row=row, colour=hue, counts=signal in COUNTS)
            figure.add_trace(
                go.Scatter(
                    x=points["at"],
                    y=points["value"],
                    mode="lines+markers",
                    name=name,
                    legendgroup=signal,
                    legendgrouptitle_text=TITLES.get(signal, signal) if nth == 0 else None,
                    line={"color": hue, "dash": _DASHES[nth % len(_DASHES)]},
                    marker={"color": hue, "symbol": _SYMBOLS[nth % len(_SYMBOLS)], "size": 7},
                    hovertemplate=f"{name}: %{{y:{number}}}<extra>%{{x}}</extra>",
                ),
                row=row,
                col=1,
            )
            alarms = points[points["status"].isin(["alarm", "error"])]
            figure.add_trace(
                go.Scatter(
                    x=alarms["at"],
                    y=alarms["value"],
                    mode="markers",
                    marker={"color": ALARM_COLOUR, "size": 13, "symbol": "x", "line": {"width": 1}},
                    name=f"alarm: {name}",
                    legendgroup=signal,
                    hovertext=alarms["reason"],
                    showlegend=not alarms.empty,
                ),
                row=row,
                col=1,
            )
        if signal in COUNTS:
            top = float(frame.loc[frame["signal"] == signal, "value"].max() or 0.0)
            figure.update_yaxes(
                range=[-0.05 * max(top, 1.0), max(top, 1.0) * 1.15],
                tick0=0,
                dtick=max(1, math.ceil(top / 4)),
                tickformat=",d",
                row=row,
                col=1,
            )
        else:
            figure.update_yaxes(tickformat=".2f", row=row, col=1)
    levels = _event_levels(events, frame)
    for event, level in zip(events, levels, strict=True):
        at = pd.Timestamp(event.at)
        figure.add_vline(x=at, line_dash="dot", line_color="gray")
        figure.add_annotation(
            x=at,
            y=1.0,
            yref="paper",
            yshift=8 + 16 * level,
            text=event.action,
            showarrow=False,
            font={"size": 11, "color": "#4b5563"},
            bgcolor="rgba(255,255,255,0.85)",
        )
    top_margin = 50 + 16 * (max(levels, default=0) + 1)
    figure.update_layout(
        height=260 * len(signals) + top_margin,
        margin={"t": top_margin, "b": 20},
        legend={"orientation": "h", "groupclick": "toggleitem"},
        template="plotly_white",
    )
    return figure


def _event_levels(events: Sequence[PromotionRecord], frame: pd.DataFrame) -> list[int]:
    """A label row per event: the lowest whose last label is far enough left not to overprint."""
    if not events:
        return []
    times = [pd.Timestamp(e.at) for e in events] + list(frame["at"])
    span = (max(times) - min(times)).total_seconds() or 1.0
    gap = 0.09 * span  # a short label is about a tenth of the plot's width
    ends: list[float] = []  # per level, the time of its last label (seconds from the start)
    levels = []
    for event in events:
        at = (pd.Timestamp(event.at) - min(times)).total_seconds()
        level = next((i for i, end in enumerate(ends) if at - end >= gap), len(ends))
        if level == len(ends):
            ends.append(at)
        ends[level] = at
        levels.append(level)
    return levels


def promoting_comparison(events: Sequence[PromotionRecord], column: str) -> str | None:
    """The comparison of the last promotion to ``column`` (None: initial, forced or never)."""
    moves = [e for e in events if e.action == "promote" and e.to_column == column]
    return moves[-1].comparison_id if moves else None


def _band(figure: go.Figure, points: pd.DataFrame, *, row: int, colour: str, counts: bool = False) -> None:
    """The baseline window's range as a band in the series' colour over the whole time axis."""
    if points.empty:
        return
    low, high = float(points["value"].min()), float(points["value"].max())
    pad = 0.5 if counts else max((high - low) * 0.05, 1e-3)
    figure.add_hrect(
        y0=low - pad, y1=high + pad, fillcolor=colour, opacity=0.10, line_width=0, row=row, col=1
    )
