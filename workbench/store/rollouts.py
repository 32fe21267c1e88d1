"""The rollout record: a versioned, append-only log of each table's live rollout steps.

A rollout sends live traffic to a candidate column before it is promoted: in the *shadow*
(production answers, a sample of queries also runs against the candidate and is compared) or
as a *canary* (a sticky share of requests is answered by the candidate). Each step is one row of
:data:`~workbench.contract.ROLLOUTS_TABLE`, numbered per table by ``seq``: who, when, what, the
candidate and the table version it was validated at, the share, the reason. The state of a
table is its last row; ``abort`` and ``end`` rows close a rollout. The serving process follows
this record like it follows the ``production`` tag.

This module only reads and writes rows; :mod:`workbench.production.rollout` validates the
steps and decides which rollout is in force.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from workbench.contract import ROLLOUTS_TABLE, rollouts_schema
from workbench.store.records import append_records, read_records

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["ACTIONS", "RolloutAction", "RolloutStep", "append_step", "close_rollout", "rollout_steps"]

RolloutAction = Literal["shadow", "canary", "progressive", "abort", "end"]
ACTIONS: tuple[RolloutAction, ...] = ("shadow", "canary", "progressive", "abort", "end")


@dataclass(frozen=True)
class RolloutStep:
    """One row of the rollout record (see the module docstring)."""

    table: str
    seq: int
    at: datetime
    actor: str
    action: RolloutAction
    candidate: str | None
    version: int | None
    """The table version the candidate column was validated at (and is served from)."""
    production_column: str | None
    production_version: int | None
    percent: float
    """Share of traffic (0–100) the candidate answers; 0 in the shadow."""
    sample: float
    """Share of queries (0–1) also run against the candidate in the shadow; 0 for a canary."""
    reason: str
    merge: str | None = None
    """Transition mode: how both models' results are merged (``rrf`` or ``calibrated``)."""
    old_scope: str | None = None
    """Transition mode: the old column is searched over the ``uncovered`` rows or ``all``."""

    @property
    def active(self) -> bool:
        """A shadow, canary or progressive step (abort and end close a rollout)."""
        return self.action in ("shadow", "canary", "progressive")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}

    @property
    def message(self) -> str:
        """One line for the history: ``#3 canary vec__x at 5% (v12) by ana: reason``."""
        what = {
            "shadow": f"shadow {self.candidate} on {self.sample:.0%} of queries",
            "canary": f"canary {self.candidate} at {self.percent:g}% of traffic",
            "progressive": f"transition search: {self.candidate} over production ({self.merge} merge)",
            "abort": "rollout aborted: all traffic to production",
            "end": f"rollout ended ({self.candidate} promoted)",
        }[self.action]
        version = f" (v{self.version})" if self.version is not None and self.active else ""
        reason = f": {self.reason}" if self.reason else ""
        return f"#{self.seq} {what}{version} by {self.actor}{reason}"


def rollout_steps(ws: Workspace, table: str) -> list[RolloutStep]:
    """Every rollout step of ``table``, oldest first (empty when there never was one)."""
    rows = read_records(ws, ROLLOUTS_TABLE, equals={"table": table})
    if rows is None:
        return []
    steps = [_step(row) for row in rows.to_pylist()]
    return sorted(steps, key=lambda step: step.seq)


def append_step(
    ws: Workspace,
    table: str,
    action: RolloutAction,
    *,
    actor: str,
    candidate: str | None = None,
    version: int | None = None,
    production_column: str | None = None,
    production_version: int | None = None,
    percent: float = 0.0,
    sample: float = 0.0,
    reason: str = "",
    merge: str | None = None,
    old_scope: str | None = None,
    now: datetime | None = None,
) -> RolloutStep:
    """Append the next step of ``table`` (one record-table version) and return it.

    Callers serialise steps of one table (the production move lock), so ``seq`` is the last
    plus one.
    """
    previous = rollout_steps(ws, table)
    step = RolloutStep(
        table=table,
        seq=(previous[-1].seq + 1) if previous else 1,
        at=(now or datetime.now(UTC)).astimezone(UTC),
        actor=actor,
        action=action,
        candidate=candidate,
        version=version,
        production_column=production_column,
        production_version=production_version,
        percent=float(percent),
        sample=float(sample),
        reason=reason,
        merge=merge,
        old_scope=old_scope,
    )
    append_records(ws, ROLLOUTS_TABLE, pa.Table.from_pylist([asdict(step)], schema=rollouts_schema()))
    return step


def close_rollout(
    ws: Workspace, table: str, *, action: str, column: str, actor: str, now: datetime | None = None
) -> RolloutStep | None:
    """After a production move: record the end of the open rollout, if any (None otherwise).

    ``promote`` and ``rollback`` call it once the move is recorded. A rollout whose candidate
    was promoted *ends*; any other move of production *aborts* it (its traffic returns to the
    new production). Readers do not depend on this row: a rollout is also over once production
    serves another column than when it started.
    """
    steps = rollout_steps(ws, table)
    if not steps or not steps[-1].active:
        return None
    open_step = steps[-1]
    promoted = action == "promote" and column == open_step.candidate
    if not promoted and column == open_step.production_column:
        return None  # a refresh, or a rollback to the same column: the rollout goes on
    return append_step(
        ws,
        table,
        "end" if promoted else "abort",
        actor=actor,
        candidate=open_step.candidate,
        production_column=open_step.production_column,
        production_version=open_step.production_version,
        reason=f"production moved by {action} to {column}",
        now=now,
    )


def _step(row: dict[str, Any]) -> RolloutStep:
    at = row["at"]
    return RolloutStep(
        table=row["table"],
        seq=int(row["seq"]),
        at=at if at.tzinfo is not None else at.replace(tzinfo=UTC),
        actor=row["actor"] or "unknown",
        action=row["action"],
        candidate=row["candidate"],
        version=row["version"],
        production_column=row["production_column"],
        production_version=row["production_version"],
        percent=float(row["percent"] or 0.0),
        sample=float(row["sample"] or 0.0),
        reason=row["reason"] or "",
        merge=row.get("merge"),
        old_scope=row.get("old_scope"),
    )
