"""Choose among N candidate models on your own labelled queries, with cost beside quality.

Every candidate (a vector column, named by model alias or column name) is searched exactly with
its own pinned model's query vectors. Each metric gets its mean and 95% BCa interval; every pair
of candidates gets a paired sign-flip test, and the p-values of all pairs are Holm-corrected per
metric (``workbench.metrics.multiple.holm``), since picking the best of N is N·(N−1)/2 tests.
Beside quality: bytes per vector, query latency (encode + search, per query), embed throughput
measured on a sample of documents, and the price per 1M tokens where one is configured or pinned
with a served model (empty, never zero, when it is not). A served model (an OpenAI-compatible or
Ollama pin) is a candidate like any other once its column is embedded: its queries go through
its API, checked against its pinned canaries. The recommendation can say "stay put".

Example:
    >>> board = leaderboard(ws, eval_set="scifact", models=["minilm-l3", "minilm-l6"])  # doctest: +SKIP
    >>> board.recommendation  # doctest: +SKIP
    'Migrate to minilm-l6: ndcg@10 +0.145 [0.112, 0.178] over minilm-l3, Holm-adjusted p=0.0001.'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from workbench.comparison.scoring import check_metrics, depth_of, require_judged, score
from workbench.contract import document_text
from workbench.decide.plan import count_tokens
from workbench.errors import InvalidArgumentError
from workbench.metrics.intervals import mean_intervals
from workbench.metrics.multiple import holm
from workbench.metrics.paired import paired_deltas
from workbench.models.embedder import Embedder
from workbench.progress import ProgressFn
from workbench.retrieval.encode import embedder_for
from workbench.retrieval.search import check_fresh, retrieve
from workbench.store.evalsets import load_eval_set
from workbench.store.workspace import VectorColumn, Workspace

__all__ = ["Leaderboard", "leaderboard"]

log = logging.getLogger(__name__)

DEFAULT_METRICS = ("ndcg@10", "recall@100")


@dataclass(frozen=True)
class Leaderboard:
    """N candidates on one eval set: quality with intervals, pairwise tests, cost, a recommendation.

    Attributes:
        eval_set: The eval set's name.
        table: The corpus table.
        table_version: The version every candidate was searched at.
        metric: The deciding metric (the first of ``metrics``).
        baseline: Label of the current model the recommendation compares against.
        rows: One row per candidate, best first by ``metric``: ``label, column, dim,
            bytes_per_vector``, per metric ``<m>``, ``<m>_ci_low``, ``<m>_ci_high``, then
            ``query_ms``, ``embed_docs_per_s`` (NaN when not measured), ``price_per_million``
            and ``corpus_cost`` (NaN when the price is unknown, never 0; a served model's tokens
            are the ones its server reported when the column was embedded).
        pairs: One row per pair and metric: ``a, b, metric, delta`` (b − a), ``ci_low, ci_high,
            p, p_holm, significant``.
        recommendation: One sentence: which model, or stay put, and why.
        n_judged: Judged queries the metrics are computed on.
    """

    eval_set: str
    table: str
    table_version: int
    metric: str
    baseline: str
    rows: pd.DataFrame
    pairs: pd.DataFrame
    recommendation: str
    n_judged: int
    warnings: list[str] = field(default_factory=list)


def leaderboard(
    ws: Workspace,
    *,
    eval_set: str,
    models: Sequence[str] | None = None,
    table: str | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    baseline: str | None = None,
    min_gain: float = 0.01,
    alpha: float = 0.05,
    prices: Mapping[str, float] | None = None,
    throughput_sample: int = 64,
    embedders: Mapping[str, Embedder] | None = None,
    allow_stale: bool = False,
    on_progress: ProgressFn | None = None,
) -> Leaderboard:
    """Evaluate every candidate column on ``eval_set`` and recommend one (or staying put).

    Args:
        ws: The workspace.
        eval_set: Name of a labelled eval set (at least ``MIN_JUDGED_QUERIES`` judged queries).
        models: Model aliases or vector column names (default: every vector column of the table).
        table: Corpus table (default: the eval set's).
        metrics: Metric names; the first decides.
        baseline: The current model (default: the first candidate).
        min_gain: Smallest gain in the deciding metric worth a migration.
        alpha: Family-wise significance level (after Holm).
        prices: Price per 1M tokens by label (alias or column); missing: the price pinned with a
            served model (``serving.price_per_million_tokens``), else unknown.
        throughput_sample: Documents to time each model's embedding on (0: do not measure).
        embedders: Loaded embedders keyed by column name (others are loaded from their pins).
        allow_stale: Evaluate columns with missing or stale rows (a warning) instead of refusing.
        on_progress: Called with ``(candidates_done, candidates_total)``.

    Raises:
        InvalidArgumentError: fewer than two candidates, a repeated one, too few judged queries,
            a bad metric, ``min_gain`` < 0 or ``alpha`` outside (0, 1).
        NotFoundError: the eval set, table or a column does not exist.
        StaleColumnError: a column has missing or stale rows and ``allow_stale`` is False.
    """
    metric_names = check_metrics(metrics)
    if min_gain < 0 or not 0 < alpha < 1:
        raise InvalidArgumentError(f"need min_gain >= 0 and 0 < alpha < 1, got {min_gain}, {alpha}")
    evals = load_eval_set(ws, eval_set)
    judged = require_judged(evals)
    handle = ws.table(table or evals.table)
    handle.checkout(handle.version)
    columns = _candidates(ws, handle, models)
    labels = list(columns)
    base = baseline if baseline is not None else labels[0]
    if base not in columns:
        raise InvalidArgumentError(f"baseline {base!r} is not one of the candidates: {', '.join(labels)}")
    warnings = check_fresh(handle, list(columns.values()), allow_stale=allow_stale)
    frames, extras = {}, {}
    for done, (label, column) in enumerate(columns.items(), start=1):
        embedder = embedder_for(column, embedders)
        found = retrieve(handle, column, embedder, evals.queries, k=depth_of(metric_names))
        frames[label] = score(found.rankings, evals, metric_names)
        extras[label] = {
            "query_ms": 1000 * (found.encode_s + found.search_s) / max(len(evals.queries), 1),
            "embed_docs_per_s": _throughput(handle, embedder, throughput_sample),
            **_money(handle, column, embedder, _price(label, column, prices)),
        }
        if on_progress is not None:
            on_progress(done, len(columns))
    rows = _rows(columns, frames, extras, metric_names)
    pairs = _pairs(frames, metric_names, alpha)
    text = _recommend(rows, pairs, metric_names[0], base, min_gain, alpha)
    return Leaderboard(
        evals.name,
        handle.name,
        int(handle.version),
        metric_names[0],
        base,
        rows,
        pairs,
        text,
        len(judged),
        warnings,
    )


def _candidates(ws: Workspace, handle: object, models: Sequence[str] | None) -> dict[str, VectorColumn]:
    names = [m.strip() for m in (models or []) if m.strip()]
    if models is None:
        aliases = {ref.column: alias for alias, ref in sorted(ws.config.all_models().items())}
        found = ws.vector_columns(handle)  # type: ignore[arg-type]
        columns = {aliases.get(c.name, c.name): c for c in found}
    else:
        columns = {name: ws.resolve_column(handle, name) for name in names}  # type: ignore[arg-type]
        if len(columns) != len(names) or len({c.name for c in columns.values()}) != len(columns):
            raise InvalidArgumentError(f"candidates repeat a model or column: {', '.join(names)}")
    if len(columns) < 2:
        raise InvalidArgumentError(
            f"a leaderboard needs at least two candidate columns, got {len(columns)} "
            f"({', '.join(columns) or 'none'}); embed another model with `workbench embed --model ALIAS`"
        )
    return columns


def _throughput(handle: object, embedder: Embedder, sample: int) -> float:
    if sample <= 0:
        return float("nan")
    texts = _sample_documents(handle, sample)
    embedder.encode_documents(texts[:8])  # warm-up
    start = time.perf_counter()
    embedder.encode_documents(texts)
    return len(texts) / max(time.perf_counter() - start, 1e-9)


def _price(label: str, column: VectorColumn, prices: Mapping[str, float] | None) -> float | None:
    """The given price (by label or column name), else the one pinned with a served model."""
    given = prices or {}
    for key in (label, column.name):
        if key in given:
            return float(given[key])
    serving = column.ref.serving
    return serving.price_per_million_tokens if serving is not None else None


def _money(handle: object, column: VectorColumn, embedder: Embedder, price: float | None) -> dict[str, float]:
    if price is None:
        return {"price_per_million": float("nan"), "corpus_cost": float("nan")}
    counts = count_tokens(embedder, _sample_documents(handle, None))
    # A served model has no local tokenizer: the tokens its server reported for the column's embed.
    tokens = float(counts.sum()) if counts is not None else float((column.usage or {}).get("tokens") or "nan")
    cost = tokens * price / 1e6
    return {"price_per_million": float(price), "corpus_cost": cost}


def _sample_documents(handle: object, sample: int | None, seed: int = 0) -> list[str]:
    data = handle.to_lance().to_table(columns=["title", "text"])  # type: ignore[attr-defined]
    docs = [
        document_text(t or "", x or "") for t, x in zip(*(c.to_pylist() for c in data.columns), strict=True)
    ]
    if sample is None or sample >= len(docs):
        return docs
    picked = np.random.default_rng(seed).choice(len(docs), size=sample, replace=False)
    return [docs[i] for i in picked]


def _rows(
    columns: dict[str, VectorColumn],
    frames: dict[str, pd.DataFrame],
    extras: dict[str, dict[str, float]],
    metrics: list[str],
) -> pd.DataFrame:
    records = []
    for label, column in columns.items():
        record: dict[str, object] = {
            "label": label,
            "column": column.name,
            "dim": column.dim,
            "bytes_per_vector": column.dim * 4,
        }
        intervals = mean_intervals(frames[label][metrics])
        for metric in metrics:
            record[metric] = intervals.loc[metric, "mean"]
            record[f"{metric}_ci_low"] = intervals.loc[metric, "ci_low"]
            record[f"{metric}_ci_high"] = intervals.loc[metric, "ci_high"]
        records.append({**record, **extras[label]})
    frame = pd.DataFrame(records)
    return frame.sort_values(metrics[0], ascending=False, kind="stable").reset_index(drop=True)


def _pairs(frames: dict[str, pd.DataFrame], metrics: list[str], alpha: float) -> pd.DataFrame:
    records = []
    for a, b in combinations(frames, 2):
        stats = paired_deltas(frames[a][metrics], frames[b][metrics])
        for metric in metrics:
            s = stats[metric]
            records.append(
                {
                    "a": a,
                    "b": b,
                    "metric": metric,
                    "delta": s.delta,
                    "ci_low": s.ci_low,
                    "ci_high": s.ci_high,
                    "p": s.p_permutation,
                }
            )
    pairs = pd.DataFrame(records, columns=["a", "b", "metric", "delta", "ci_low", "ci_high", "p"])
    pairs["p_holm"] = np.nan
    for metric in metrics:
        mask = pairs["metric"] == metric
        pairs.loc[mask, "p_holm"] = holm(pairs.loc[mask, "p"].to_numpy())
    pairs["significant"] = pairs["p_holm"] < alpha
    return pairs


def _recommend(
    rows: pd.DataFrame, pairs: pd.DataFrame, metric: str, base: str, min_gain: float, alpha: float
) -> str:
    best = str(rows.iloc[0]["label"])
    if best == base:
        return f"Stay put: {base} is the best candidate on {metric} ({rows.iloc[0][metric]:.3f})."
    row = pairs[
        (pairs["metric"] == metric) & (pairs["a"].isin([base, best])) & (pairs["b"].isin([base, best]))
    ]
    pair = row.iloc[0]
    sign = 1.0 if pair["a"] == base else -1.0
    delta = sign * float(pair["delta"])
    low, high = sorted((sign * float(pair["ci_low"]), sign * float(pair["ci_high"])))
    evidence = (
        f"{metric} {delta:+.3f} [{low:.3f}, {high:.3f}] over {base}, Holm-adjusted p={pair['p_holm']:.4f}"
    )
    if pair["p_holm"] >= alpha:
        return f"Stay put: {best} leads ({evidence}), but the gain is not significant at {alpha}."
    if delta < min_gain:
        return f"Stay put: {best} leads ({evidence}), but the gain is below the minimum of {min_gain}."
    return f"Migrate to {best}: {evidence}."
