"""Plotly figures of a comparison, shared by the HTML report, the app and the notebooks.

Every builder takes a :class:`~workbench.store.comparisons.Comparison` and returns a
``plotly.graph_objects.Figure``; none of them puts corpus or query text into a figure (only
ids, numbers and metric names), so a report never carries document text into a script.

Example:
    >>> fig = metric_deltas(cmp)  # doctest: +SKIP
    >>> fig.write_html("deltas.html", include_plotlyjs=True)  # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.metrics.multiple import DEFAULT_PRIMARY, adjusted_p
from workbench.store.comparisons import SIDES

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.store.comparisons import Comparison

__all__ = [
    "metric_deltas",
    "overlap_histogram",
    "query_deltas",
    "rank_shift",
    "score_histograms",
    "score_overlay",
]

# Okabe-Ito: distinguishable with every common colour-vision deficiency, and in greyscale.
SIDE_COLOURS = {"baseline": "#999999", "candidate": "#0072B2"}
LABEL_COLOURS = {"all": None, "relevant": "#0072B2", "non-relevant": "#E69F00"}
LABEL_DASHES = {"relevant": "solid", "non-relevant": "dash"}
STATUS_COLOURS = {"kept": "#999999", "entered": "#009E73", "left": "#D55E00"}
OUTCOME_COLOURS = {"better": "#0072B2", "worse": "#D55E00", "tied": "#999999"}
SIGNIFICANT, BEFORE_HOLM, NOT_SIGNIFICANT = "#1f77b4", "#9ecae1", "#bbbbbb"
TITLE_CHARS = 30
"""Characters of a document title shown beside its point in the rank-shift chart (the id is in the hover)."""
_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 50}}


def metric_deltas(cmp: Comparison, *, alpha: float = 0.05, primary: str = DEFAULT_PRIMARY) -> go.Figure:
    """Candidate − baseline per metric with its 95% interval; significant ones in colour.

    Colours: blue when significant after the multiple-comparison correction (the primary
    metric's own p, the others Holm-adjusted: :func:`workbench.metrics.multiple.adjusted_p`),
    light blue when p < alpha only before Holm, grey otherwise. The 95% interval inverts the
    same sign-flip test, so a grey point's interval always touches 0 and a coloured one's never
    does. The primary metric is labelled; unbounded interval ends are not drawn.
    """
    import plotly.graph_objects as go

    deltas = cmp.deltas.iloc[::-1]  # plotly draws the first category at the bottom
    adjusted = adjusted_p(deltas, primary=primary)
    colours = np.select(
        [adjusted < alpha, deltas["p_permutation"] < alpha], [SIGNIFICANT, BEFORE_HOLM], NOT_SIGNIFICANT
    )
    labels = [f"{m} (primary)" if m == primary else str(m) for m in deltas.index]
    high = deltas["ci_high"].replace(np.inf, np.nan)
    low = deltas["ci_low"].replace(-np.inf, np.nan)
    fig = go.Figure(
        go.Scatter(
            x=deltas["delta"],
            y=labels,
            mode="markers",
            marker={"size": 10, "color": colours},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (high - deltas["delta"]).fillna(0),
                "arrayminus": (deltas["delta"] - low).fillna(0),
            },
            customdata=np.stack(
                [deltas["p_permutation"], adjusted, deltas["wins"], deltas["ties"], deltas["losses"]], axis=-1
            )
            if len(deltas)
            else None,
            hovertemplate="%{y}: %{x:+.3f}<br>p=%{customdata[0]:.3g} (Holm %{customdata[1]:.3g}), "
            "wins %{customdata[2]}, ties %{customdata[3]}, losses %{customdata[4]}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line={"color": "black", "width": 1})
    fig.update_layout(
        title=f"Candidate − baseline per metric (95% interval; blue: p < {alpha} after Holm, "
        "light blue: before Holm only, grey: not significant)",
        xaxis_title="delta",
        height=max(300, 28 * len(deltas) + 120),
        **_LAYOUT,
    )
    return fig


def score_overlay(cmp: Comparison, *, bins: int = 25) -> go.Figure:
    """Both models' top-k cosine score distributions overlaid in one panel (every result).

    Densities, so the two shapes compare whatever the counts; the models' scales differ, which
    is why a similarity threshold cannot be carried over as is (see ``cmp.thresholds``).
    """
    import plotly.graph_objects as go

    hist = cmp.histograms(bins=bins)
    every = hist[hist["label"] == "all"]
    names = dict(zip(SIDES, _side_titles(cmp), strict=True))
    fig = go.Figure([_bars(every[every["side"] == side], names[side], SIDE_COLOURS[side]) for side in SIDES])
    k = cmp.manifest.shift_k
    return _score_layout(
        fig, f"Top-{k} cosine scores, both models overlaid (KS distance {cmp.ks.statistic:.3f})"
    )


def score_histograms(cmp: Comparison, *, bins: int = 25) -> go.Figure:
    """Can each model's scores still be thresholded? ECDFs of relevant vs other results.

    One panel per model: the cumulative share of relevant (solid) and non-relevant (dashed)
    top-k results below each cosine score — no binning, so ~100 relevant scores do not make a
    spiky histogram — and the ROC AUC of the separation in the panel title. Without relevance
    labels there is nothing to split: the figure is :func:`score_overlay`.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    scores = cmp.scores.dropna(subset=["relevant"])
    if not scores["relevant"].astype(bool).any():
        return score_overlay(cmp, bins=bins)
    auc = cmp.separation().set_index("side")["auc"]
    titles = [f"{t} · AUC {auc[side]:.2f}" for t, side in zip(_side_titles(cmp), SIDES, strict=True)]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=titles)
    for col, side in enumerate(SIDES, start=1):
        mine = scores[scores["side"] == side]
        for label, mask in (
            ("relevant", mine["relevant"].astype(bool)),
            ("non-relevant", ~mine["relevant"].astype(bool)),
        ):
            values = np.sort(mine.loc[mask, "score"].to_numpy(dtype=float))
            if not values.size:
                continue
            fig.add_trace(
                go.Scatter(
                    x=values,
                    y=np.arange(1, values.size + 1) / values.size,
                    mode="lines",
                    line={
                        "shape": "hv",
                        "color": LABEL_COLOURS[label],
                        "dash": LABEL_DASHES[label],
                        "width": 2,
                    },
                    name=label,
                    legendgroup=label,
                    showlegend=col == 1,
                    hovertemplate=f"{label}: %{{y:.0%}} score ≤ %{{x:.3f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    k = cmp.manifest.shift_k
    fig.update_layout(
        title=f"Top-{k} cosine scores of relevant vs non-relevant results (ECDF; AUC = separation)",
        yaxis_title="share of results ≤ score",
        height=380,
        **_LAYOUT,
    )
    fig.update_xaxes(title_text="cosine similarity")
    return fig


def _score_layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=title, barmode="overlay", yaxis_title="density", height=380, **_LAYOUT)
    fig.update_xaxes(title_text="cosine similarity")
    return fig


def rank_shift(cmp: Comparison, query_id: str | None = None, *, k: int | None = None) -> go.Figure:
    """Slope chart of one query: each document's baseline rank → candidate rank.

    Documents outside a model's retrieved list sit on the "beyond" line below rank k. The
    default query is the worst regression (or, without labels, the lowest RBO).
    """
    import plotly.graph_objects as go

    k = k or cmp.manifest.shift_k
    if query_id is None:
        worst = cmp.worst_regressions(1)
        query_id = str(worst["query_id"].iloc[0]) if len(worst) else str(cmp.per_query["query_id"].iloc[0])
    frame = cmp.drilldown(query_id, k=k)
    beyond = k + 1
    fig = go.Figure()
    for row in frame.itertuples(index=False):
        ranks = [_clip(row.baseline_rank, beyond), _clip(row.candidate_rank, beyond)]
        label = html.escape(short_title(row.title, row.doc_id))
        doc = html.escape(str(row.doc_id))
        relevant = not pd.isna(row.grade) and row.grade > 0
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=ranks,
                mode="lines+markers+text",
                line={"color": STATUS_COLOURS[row.status], "width": 3 if relevant else 1.5},
                marker={"symbol": "star" if relevant else "circle", "size": 10 if relevant else 7},
                text=[label if ranks[0] <= k else "", label if row.status == "entered" else ""],
                textposition=["middle left", "middle right"],
                name=f"{row.status}{' · relevant' if relevant else ''}",
                legendgroup=f"{row.status}{relevant}",
                showlegend=False,
                hovertemplate=f"{html.escape(str(row.title or row.doc_id))}<br>{doc}: {row.status}, grade "
                f"{'–' if pd.isna(row.grade) else row.grade}<extra></extra>",
            )
        )
    titles = _side_titles(cmp)
    fig.update_layout(
        title=f"Rank shift in the top {k} for query {html.escape(query_id)} (★ relevant)",
        xaxis={"tickvals": [0, 1], "ticktext": titles, "range": [-0.75, 1.75]},
        yaxis={
            "autorange": "reversed",
            "tickvals": [*range(1, k + 1), beyond],
            "ticktext": [*map(str, range(1, k + 1)), "beyond"],
            "title": "rank",
        },
        height=max(380, 26 * (k + 2) + 120),
        **_LAYOUT,
    )
    return fig


def short_title(title: object, doc_id: object, *, width: int = TITLE_CHARS) -> str:
    """A document's title cut at a word to about ``width`` characters (its id when it has none)."""
    text = " ".join(str(title).split()) if isinstance(title, str) and title.strip() else str(doc_id)
    if len(text) <= width:
        return text
    cut = text[: width - 1].rsplit(" ", 1)[0] if " " in text[: width - 1] else text[: width - 1]
    return cut.rstrip(" ,;:-") + "…"


def query_deltas(cmp: Comparison) -> go.Figure:
    """One point per query: how far its top k moved (RBO) against how its headline metric changed.

    Blue points went up, vermillion down, grey tied; without judged queries the y axis is the
    overlap@k instead. Each point carries its query id as ``customdata[0]`` (the app opens the
    query's drill-down on a click) — ids and numbers only, no query text.
    """
    import plotly.graph_objects as go

    pq, k = cmp.per_query, cmp.manifest.shift_k
    head = cmp.manifest.headline_metric
    head = head if head and f"{head}_delta" in pq.columns and pq[f"{head}_delta"].notna().any() else None
    y_name = f"{head}_delta" if head else f"overlap@{k}"
    shown = pq.dropna(subset=[y_name])
    outcome = np.select([shown[y_name] > 1e-9, shown[y_name] < -1e-9], ["better", "worse"], "tied")
    groups = ("better", "worse", "tied") if head else ("tied",)
    fig = go.Figure()
    for group in groups:
        part = shown[outcome == group] if head else shown
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=part["rbo"],
                y=part[y_name],
                mode="markers",
                name=group if head else "query",
                marker={"size": 9, "color": OUTCOME_COLOURS[group], "line": {"width": 0.5, "color": "white"}},
                customdata=[[html.escape(str(q))] for q in part["query_id"]],
                hovertemplate="query %{customdata[0]}<br>"
                + (f"Δ {head} %{{y:+.3f}}" if head else f"overlap@{k} %{{y:.0%}}")
                + " · RBO %{x:.2f}<extra></extra>",
                showlegend=bool(head),
            )
        )
    if head:
        fig.add_hline(y=0, line={"color": "black", "width": 1})
    hidden = len(pq) - len(shown)
    note = f"; {hidden} unjudged not shown" if hidden else ""
    title = f"Per query: Δ {head} vs rank overlap{note}" if head else f"Per query: overlap@{k} vs RBO"
    fig.update_layout(
        title=title,
        xaxis={"title": "RBO of the two top lists (1 = unchanged)", "range": [-0.03, 1.03]},
        yaxis_title=f"Δ {head} (candidate − baseline)" if head else f"overlap@{k}",
        height=380,
        clickmode="event+select",
        **_LAYOUT,
    )
    return fig


def overlap_histogram(cmp: Comparison, *, k: int | None = None) -> go.Figure:
    """How many queries keep how much of their top k (overlap@k), all queries, no labels."""
    import plotly.graph_objects as go

    k = k or cmp.manifest.shift_k
    values = cmp.per_query[f"overlap@{k}"]
    fig = go.Figure(go.Histogram(x=values, xbins={"start": -0.05, "end": 1.05, "size": 1 / k}))
    fig.update_layout(
        title=f"Overlap@{k} of the two top-{k} lists per query (mean {values.mean():.2f})",
        xaxis_title=f"overlap@{k}",
        yaxis_title="queries",
        height=320,
        **_LAYOUT,
    )
    return fig


def _bars(part: pd.DataFrame, name: str, colour: str | None, **options: object) -> go.Bar:
    import plotly.graph_objects as go

    centres = (part["bin_left"] + part["bin_right"]) / 2
    return go.Bar(
        x=centres,
        y=part["density"],
        width=part["bin_right"] - part["bin_left"],
        name=name,
        marker={"color": colour, "opacity": 0.6, "line": {"width": 0}},
        **options,
    )


def _side_titles(cmp: Comparison) -> list[str]:
    manifest = cmp.manifest
    labels = (
        manifest.baseline_label or manifest.baseline_column,
        manifest.candidate_label or manifest.candidate_column,
    )
    return [f"baseline: {html.escape(labels[0])}", f"candidate: {html.escape(labels[1])}"]


def _clip(rank: object, beyond: int) -> int:
    return beyond if pd.isna(rank) or int(rank) > beyond else int(rank)  # type: ignore[call-overload]
