"""Monitoring over time, for people: a tidy frame of every signal value and a plotly time series.

:func:`monitor_frame` flattens the stored passes into one row per (pass, series);
:func:`monitor_figure` draws each series over time, one panel per signal, with the baseline
window as a shaded band, alarms as red markers, and the production moves of the history
(promotions, rollbacks, refreshes, retirements) as vertical lines on the same time axis.
:func:`promoting_comparison` finds the comparison that put the current production column in
place, so an alarm can link to the evidence it contradicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from workbench.production.history import PromotionRecord

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.store.monitor_runs import MonitorRun

__all__ = ["SERIES", "monitor_figure", "monitor_frame", "promoting_comparison"]


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


def monitor_figure(
    runs: Sequence[MonitorRun], events: Sequence[PromotionRecord] = (), baseline: Sequence[MonitorRun] = ()
) -> go.Figure:
    """Each signal's series over time: baseline band, alarm markers, production moves."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = monitor_frame(runs, baseline)
    signals = [s for s in SERIES if s in set(frame["signal"])] or ["eval"]
    figure = make_subplots(rows=len(signals), cols=1, shared_xaxes=True, subplot_titles=signals)
    for row, signal in enumerate(signals, start=1):
        for series, points in frame[frame["signal"] == signal].groupby("series", sort=False):
            _band(figure, points[points["baseline"]], row=row, series=str(series))
            figure.add_trace(
                go.Scatter(
                    x=points["at"], y=points["value"], mode="lines+markers", name=f"{signal}: {series}"
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
                    marker={"color": "crimson", "size": 12, "symbol": "x"},
                    name=f"alarm: {series}",
                    hovertext=alarms["reason"],
                ),
                row=row,
                col=1,
            )
    for event in events:
        figure.add_vline(x=pd.Timestamp(event.at), line_dash="dot", line_color="gray")
        figure.add_annotation(
            x=pd.Timestamp(event.at), y=1.02, yref="paper", text=event.action, showarrow=False
        )
    figure.update_layout(height=260 * len(signals), margin={"t": 40, "b": 20}, legend={"orientation": "h"})
    return figure


def promoting_comparison(events: Sequence[PromotionRecord], column: str) -> str | None:
    """The comparison of the last promotion to ``column`` (None: initial, forced or never)."""
    moves = [e for e in events if e.action == "promote" and e.to_column == column]
    return moves[-1].comparison_id if moves else None


def _band(figure: go.Figure, points: pd.DataFrame, *, row: int, series: str) -> None:
    """The baseline window's range as a shaded band over the whole time axis."""
    if points.empty:
        return
    low, high = float(points["value"].min()), float(points["value"].max())
    pad = max((high - low) * 0.05, 1e-3)
    figure.add_hrect(
        y0=low - pad,
        y1=high + pad,
        fillcolor="seagreen",
        opacity=0.12,
        line_width=0,
        row=row,
        col=1,
        annotation_text=f"baseline {series}",
        annotation_position="top left",
    )
