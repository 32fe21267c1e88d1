"""Scheduled re-evaluation: does a registered candidate now beat production on the current eval set?

Nobody re-evaluates candidates until an emergency; the advice is quarterly. A watch re-runs the
:func:`~workbench.decide.leaderboard.leaderboard` of production and the candidate columns
already embedded, on the eval set as it is now, and alarms when a candidate beats production on
the deciding metric by more than ``margin`` with a 95% interval excluding 0 — with what the
migration would cost (:func:`~workbench.decide.plan.plan_embed`) — or says "stay put". Each
watch is stored (``wb_candidate_watch``) for the Decide and Monitor pages; ``workbench
watch-candidates`` runs one, and a monitoring pass runs one on its own schedule
(``watch_every`` in ``monitor.toml``).

Example:
    >>> watch = watch_candidates(ws, eval_set="scifact", candidates=["minilm-l6"])  # doctest: +SKIP
    >>> watch.summary  # doctest: +SKIP
    'minilm-l6 beats production minilm-l3: ndcg@10 +0.070 [0.043, 0.098] ...'
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from workbench.decide.leaderboard import leaderboard
from workbench.decide.plan import plan_embed
from workbench.errors import InvalidArgumentError, LifecycleError
from workbench.models.embedder import Embedder
from workbench.store.candidate_watch import CandidateWatch, append_watch
from workbench.store.production import production_column
from workbench.store.workspace import VectorColumn, Workspace

__all__ = ["watch_candidates"]

log = logging.getLogger(__name__)


def watch_candidates(
    ws: Workspace,
    table: str | None = None,
    *,
    eval_set: str,
    candidates: Sequence[str] | None = None,
    metric: str = "ndcg@10",
    margin: float = 0.0,
    alpha: float = 0.05,
    plan_sample: int = 16,
    embedders: Mapping[str, Embedder] | None = None,
    store: bool = True,
    now: datetime | None = None,
) -> CandidateWatch:
    """Re-evaluate ``candidates`` against production on ``eval_set``; alarm if one clearly wins.

    Args:
        ws: The workspace.
        table: The corpus table (default: the only one).
        eval_set: The labelled eval set, as it is now.
        candidates: Model aliases or columns (default: every other column embedded in the table).
        metric: The deciding metric.
        margin: A candidate alarms only when its gain is larger than this (and its 95%
            interval excludes 0).
        alpha: Significance level of the leaderboard's Holm-corrected tests (reported).
        plan_sample: Documents timed for the migration estimate of a winning candidate.
        embedders: Loaded embedders by column name (others are loaded from their pins).
        store: Record the watch in the workspace.
        now: When (default: now, UTC).

    Raises:
        LifecycleError: the table has nothing in production.
        InvalidArgumentError: no candidate, a negative margin, or a bad metric.
        NotFoundError: no such table, eval set or column.
    """
    if margin < 0:
        raise InvalidArgumentError(f"margin must be >= 0, got {margin}")
    name = table or ws.default_table()
    handle = ws.table(name)
    active = production_column(handle)
    if active is None:
        raise LifecycleError(
            f"table {name!r} has nothing in production, so there is nothing to watch candidates "
            "against; promote a column first (`workbench promote COLUMN --initial`)"
        )
    columns = _columns(ws, handle, active, candidates)
    labels = {c.name: _label(ws, c) for c in columns}
    base = labels[active]
    board = leaderboard(
        ws,
        eval_set=eval_set,
        models=[c.name for c in columns],
        table=name,
        metrics=[metric],
        baseline=active,
        alpha=alpha,
        throughput_sample=0,
        embedders=embedders,
    )
    metric = board.metric
    rows = [
        _candidate_row(
            ws, name, column, labels[column.name], board.pairs, metric, active, margin, plan_sample, embedders
        )
        for column in columns
        if column.name != active
    ]
    watch = CandidateWatch(
        table=name,
        at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        eval_set=board.eval_set,
        production=base,
        metric=metric,
        margin=margin,
        verdict="alarm" if any(r["beats"] for r in rows) else "stay put",
        summary=_summary(base, metric, margin, rows),
        rows=tuple(rows),
    )
    log.info("candidate watch of %r: %s", name, watch.summary)
    return append_watch(ws, watch) if store else watch


def _columns(ws: Workspace, handle: Any, active: str, candidates: Sequence[str] | None) -> list[VectorColumn]:
    """Production's column first, then the candidates (default: every other embedded column)."""
    found = {c.name: c for c in ws.vector_columns(handle)}
    if candidates is None:
        chosen = [c for name, c in found.items() if name != active]
    else:
        chosen = [ws.resolve_column(handle, label) for label in candidates if label.strip()]
        chosen = [c for c in chosen if c.name != active]
    if not chosen:
        raise InvalidArgumentError(
            f"no candidate to watch besides production ({active}): embed a candidate model with "
            "`workbench embed --model ALIAS` and name it with --candidates (or in monitor.toml)"
        )
    return [found[active], *{c.name: c for c in chosen}.values()]


def _label(ws: Workspace, column: VectorColumn) -> str:
    aliases = [a for a, ref in sorted(ws.config.all_models().items()) if ref.column == column.name]
    return aliases[0] if aliases else column.name


def _candidate_row(
    ws: Workspace,
    table: str,
    column: VectorColumn,
    label: str,
    pairs: Any,
    metric: str,
    active: str,
    margin: float,
    plan_sample: int,
    embedders: Mapping[str, Embedder] | None,
) -> dict[str, Any]:
    """The candidate's delta over production (candidate − production) and, if it wins, the plan."""
    pair = pairs[
        (pairs["metric"] == metric)
        & pairs["a"].isin([active, column.name])
        & pairs["b"].isin([active, column.name])
    ].iloc[0]
    sign = 1.0 if pair["a"] == active else -1.0
    low, high = sorted((sign * float(pair["ci_low"]), sign * float(pair["ci_high"])))
    delta = sign * float(pair["delta"])
    row: dict[str, Any] = {
        "label": label,
        "column": column.name,
        "delta": delta,
        "ci_low": low,
        "ci_high": high,
        "p_holm": float(pair["p_holm"]),
        "beats": bool(low > 0 and delta > margin),
    }
    if row["beats"]:
        price = ws.config.price(label)
        if price is None and column.ref.serving is not None:
            price = column.ref.serving.price_per_million_tokens
        plan = plan_embed(
            ws,
            table,
            column.ref,
            embedder=(embedders or {}).get(column.name),
            sample=plan_sample,
            price_per_million=price,
        )
        row.update(plan=plan.message, plan_seconds=plan.seconds, plan_cost=plan.cost)
    return row


def _summary(base: str, metric: str, margin: float, rows: list[dict[str, Any]]) -> str:
    """One line: the candidates that beat production with their evidence and cost, or stay put."""

    def evidence(r: dict[str, Any]) -> str:
        return f"{metric} {r['delta']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"

    winners = sorted((r for r in rows if r["beats"]), key=lambda r: -r["delta"])
    if winners:
        parts = [
            f"{r['label']} beats production {base}: {evidence(r)}; migration ≈ {r['plan']}" for r in winners
        ]
        return " | ".join(parts)
    best = max(rows, key=lambda r: r["delta"])
    return (
        f"stay put: no candidate beats production {base} by more than {margin} with an interval "
        f"excluding 0 (best: {best['label']}, {evidence(best)})"
    )
