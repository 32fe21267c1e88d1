"""Live rollouts of a candidate column: shadow, canary by percentage, abort, end.

Promotion is decided on labelled queries; a rollout adds evidence from live traffic before
(or instead of) the switch, as blue-green and progressive deployments do:

* :func:`start_shadow` — production answers every query; a sample of them is also run against
  the candidate off the request path and compared (overlap, RBO, Kendall τ, scores, latency;
  :mod:`workbench.production.shadow`).
* :func:`start_canary` — a sticky share of requests (by a hashed request key, :func:`in_canary`)
  is answered by the candidate; every answer names the column that produced it. Call it again
  with a larger ``percent`` to go on step by step.
* :func:`abort_rollout` — everything back to production at once.
* ``workbench promote`` ends the rollout (:func:`workbench.store.rollouts.close_rollout`).

Each step is validated before it is recorded: the candidate is a vector column of the latest
version with no missing or stale rows, is not production, and its own pinned model loads and
passes its canaries (a served model's too). The step records the table version it validated,
so a serving process opens exactly that version for the candidate, as it opens the
``production`` tag for production. The record is :mod:`workbench.store.rollouts`; a rollout is
in force while its last step is a shadow or canary and production still serves the column it
served when the rollout started (a promotion or rollback to another column ends it even if the
process that moved production died before writing the end step).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from workbench.errors import InvalidArgumentError, LifecycleError
from workbench.production.history import default_actor
from workbench.production.recovery import move_lock
from workbench.production.serving import verified_embedder, verify_column
from workbench.store.production import production
from workbench.store.rollouts import RolloutStep, append_step, rollout_steps

if TYPE_CHECKING:
    from workbench.models.embedder import Embedder
    from workbench.store.production import Production
    from workbench.store.workspace import Workspace

__all__ = [
    "BUCKETS",
    "abort_rollout",
    "current_rollout",
    "in_canary",
    "start_canary",
    "start_progressive",
    "start_shadow",
]

BUCKETS = 10_000
"""Canary assignment resolution: a request key falls in one of this many buckets (0.01 %)."""


def current_rollout(ws: Workspace, table: str) -> RolloutStep | None:
    """The rollout in force on ``table``: its last shadow or canary step, or None.

    None also when production has moved to another column since the rollout started (a
    promotion or rollback ends it, recorded or not).
    """
    steps = rollout_steps(ws, table)
    if not steps or not steps[-1].active:
        return None
    step = steps[-1]
    current = production(ws.table(table))
    if current is None or current.column != step.production_column:
        return None
    return step


def start_shadow(
    ws: Workspace,
    table: str,
    candidate: str,
    *,
    sample: float = 0.2,
    reason: str = "",
    actor: str | None = None,
    embedder: Embedder | None = None,
    now: datetime | None = None,
) -> RolloutStep:
    """Run a sample of live queries against ``candidate`` in the shadow (see the module docstring).

    Args:
        ws: The workspace.
        table: The corpus table.
        candidate: A vector column name or model alias.
        sample: Share of live queries also run against the candidate, in (0, 1].
        reason: Why, for the record.
        actor: Who (default: the OS user).
        embedder: The candidate's model, already loaded (it must be the column's pin).
        now: The time to record (default: now).

    Raises:
        InvalidArgumentError: ``sample`` outside (0, 1].
        LifecycleError: no production, or the candidate is production.
        NotFoundError: no such table or column.
        StaleColumnError: the candidate has missing or stale rows.
        MixedIndexError, CanaryMismatchError: its model is not its pin, or behaves differently.
    """
    if not isinstance(sample, int | float) or not 0.0 < float(sample) <= 1.0:
        raise InvalidArgumentError(f"--sample must be a share in (0, 1], got {sample!r}; e.g. 0.2 for 20 %")
    return _step(
        ws,
        table,
        candidate,
        "shadow",
        sample=float(sample),
        percent=0.0,
        reason=reason,
        actor=actor,
        embedder=embedder,
        now=now,
    )


def start_canary(
    ws: Workspace,
    table: str,
    candidate: str,
    *,
    percent: float,
    reason: str = "",
    actor: str | None = None,
    embedder: Embedder | None = None,
    now: datetime | None = None,
) -> RolloutStep:
    """Serve ``percent`` % of traffic (sticky by request key) from ``candidate``.

    Called again for the same candidate it changes the share (raise it step by step); the
    candidate stays at the version validated when its rollout started.

    Raises:
        InvalidArgumentError: ``percent`` outside (0, 100).
        LifecycleError, NotFoundError, StaleColumnError, MixedIndexError, CanaryMismatchError:
            as :func:`start_shadow`.
    """
    if not isinstance(percent, int | float) or not 0.0 < float(percent) < 100.0:
        raise InvalidArgumentError(
            f"--percent must be in (0, 100), got {percent!r}; to send all traffic, promote the candidate"
        )
    return _step(
        ws,
        table,
        candidate,
        "canary",
        sample=0.0,
        percent=float(percent),
        reason=reason,
        actor=actor,
        embedder=embedder,
        now=now,
    )


def start_progressive(
    ws: Workspace,
    table: str,
    new: str,
    *,
    merge: str = "rrf",
    old_scope: str = "uncovered",
    reason: str = "",
    actor: str | None = None,
    now: datetime | None = None,
) -> RolloutStep:
    """Serve every query by transition search while ``new`` fills (progressive migration).

    Each query is encoded by both pinned models; ``new`` is searched over the rows it covers,
    production's column over the others (``old_scope="uncovered"``) or all rows, and the two
    lists are merged (``merge``: reciprocal rank fusion or calibrated quantiles;
    :class:`workbench.production.transition.TransitionIndex`). The service re-opens the latest
    version as the column fills. Promote ``new`` once it is whole; ``abort`` returns to production.

    Raises:
        InvalidArgumentError: an unknown merge or scope.
        LifecycleError: no production, or ``new`` is production.
        NotFoundError, StaleColumnError, MixedIndexError: as :class:`TransitionIndex`'s ``open``.
    """
    from workbench.production.transition import TransitionIndex

    handle = ws.table(table)
    column = ws.resolve_column(handle, new)
    with move_lock(ws, table, "rollout progressive"):
        current = _production_of(ws, table, column.name)
        index = TransitionIndex.open(
            ws, table, column.name, old_column=current.column, merge=merge, old_scope=old_scope
        )
        return append_step(
            ws,
            table,
            "progressive",
            actor=actor or default_actor(),
            candidate=column.name,
            version=index.version,
            production_column=current.column,
            production_version=current.version,
            reason=reason,
            merge=merge,
            old_scope=old_scope,
            now=now,
        )


def abort_rollout(
    ws: Workspace, table: str, *, reason: str = "", actor: str | None = None, now: datetime | None = None
) -> RolloutStep | None:
    """Return all traffic to production at once; None (nothing written) when no rollout is in force."""
    ws.table(table)
    with move_lock(ws, table, "rollout abort"):
        step = current_rollout(ws, table)
        if step is None:
            return None
        return append_step(
            ws,
            table,
            "abort",
            actor=actor or default_actor(),
            candidate=step.candidate,
            production_column=step.production_column,
            production_version=step.production_version,
            reason=reason,
            now=now,
        )


def in_canary(key: str, percent: float) -> bool:
    """Whether request key ``key`` is in the canary share ``percent`` (sticky: a pure function).

    The key is hashed (sha256), so neither the assignment nor anything logged reveals it, and
    raising the share keeps every key already in the canary there.
    """
    bucket = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % BUCKETS
    return bucket < round(percent * BUCKETS / 100.0)


def _step(
    ws: Workspace,
    table: str,
    candidate: str,
    action: str,
    *,
    sample: float,
    percent: float,
    reason: str,
    actor: str | None,
    embedder: Embedder | None,
    now: datetime | None,
) -> RolloutStep:
    handle = ws.table(table)
    column = ws.resolve_column(handle, candidate)
    with move_lock(ws, table, f"rollout {action}"):
        handle = ws.table(table)
        current = _production_of(ws, table, column.name)
        active = current_rollout(ws, table)
        if active is not None and active.action != "progressive" and active.candidate == column.name:
            version = active.version  # same candidate: only the share changes
            assert version is not None
        else:
            verify_column(handle, column)
            verified_embedder(column, embedder)
            version = handle.version
        return append_step(
            ws,
            table,
            "shadow" if action == "shadow" else "canary",
            actor=actor or default_actor(),
            candidate=column.name,
            version=version,
            production_column=current.column,
            production_version=current.version,
            percent=percent,
            sample=sample,
            reason=reason,
            now=now,
        )


def _production_of(ws: Workspace, table: str, candidate: str) -> Production:
    current = production(ws.table(table))
    if current is None:
        raise LifecycleError(
            f"table {table!r} has no production yet: a rollout compares a candidate with production. "
            "Promote today's column first (`workbench promote COLUMN --initial`)."
        )
    if current.column == candidate:
        raise LifecycleError(f"{candidate} is already production of {table!r}; roll out another column")
    return current
