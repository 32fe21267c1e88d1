"""Retirement: drop an old vector column once its grace period is over, and prune old versions.

The grace period runs from the moment the column stopped being production (the last promotion
or rollback away from it, from the history); a column that never was production counts from
its creation. During the grace period a rollback to it is still possible; retiring ends that.

Which tags go, which stay (the policy, decided like a careful team would):

- ``candidate-<column>`` (where the column first appeared) is deleted: it exists only to find
  that column.
- ``production-<n>`` tags whose version *served* the column are deleted: they are rollback
  points to a retired model, and rolling back to them is refused from now on.
- Every other tag is kept, including ``production`` and ``production-<n>`` tags of versions
  that served another column, other columns' ``candidate-*`` tags, and the team's own tags.
  Those versions still contain the retired column's data (versions are immutable) and stay
  fully readable; the column's files are freed once no kept tag references them (e.g. the next
  promotion or refresh moves ``production`` to a version without the column).
- The production column itself is never retired.

Then the column and its ``src__`` companion are dropped (a metadata-only new version) and
untagged versions older than the grace period are pruned with Lance's
``cleanup_old_versions(error_if_tagged_old_versions=False)``: LanceDB's own cleanup raises
(after compaction has already committed) as soon as a tagged version is old, while this one
prunes around tagged versions and leaves them readable. A serving process must therefore read
tagged versions (``production``), never an untagged one it pinned long ago.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from workbench.errors import InvalidArgumentError, LifecycleError
from workbench.lifecycle.history import PromotionRecord, append_event, history
from workbench.lifecycle.promote import active_column_at, production, sync_latest_metadata
from workbench.store.contract import PRODUCTION_TAG, candidate_tag

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.store.workspace import VectorColumn, Workspace

__all__ = [
    "DEFAULT_GRACE",
    "RetireResult",
    "out_of_production_since",
    "parse_duration",
    "retire",
]

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(days=7)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "days"}


@dataclass(frozen=True)
class RetireResult:
    """What a retirement did."""

    table: str
    column: str
    version: int
    deleted_tags: tuple[str, ...]
    kept_tags: tuple[str, ...]
    versions_pruned: int
    bytes_removed: int
    record: PromotionRecord

    @property
    def message(self) -> str:
        kept = (
            f"; kept {', '.join(self.kept_tags)} (their versions still hold the column's data)"
            if self.kept_tags
            else ""
        )
        return (
            f"retired {self.column} from {self.table!r} at v{self.version}; deleted tags: "
            f"{', '.join(self.deleted_tags) or 'none'}{kept}; pruned {self.versions_pruned} old "
            f"versions ({self.bytes_removed / 1e6:.1f} MB)"
        )


def parse_duration(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"45s"``, ``"2w"`` or ``"0"`` → a timedelta (bare = days)."""
    match = _DURATION.match(str(text))
    if match is None:
        raise InvalidArgumentError(
            f"duration {text!r} is not understood; write a number and a unit: 45s, 30m, 12h, 7d, 2w (or 0)"
        )
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def retire(
    ws: Workspace,
    table_name: str,
    column: str,
    *,
    grace: timedelta = DEFAULT_GRACE,
    actor: str | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> RetireResult:
    """Drop ``column`` (name or alias) from ``table_name`` after its grace period (see module doc).

    Args:
        ws: The workspace.
        table_name: The corpus table.
        column: The vector column or its model alias.
        grace: How long the column must have been out of production; also the age beyond
            which untagged versions are pruned.
        actor: Who, for the history (default: the OS user).
        reason: Why, for the history.
        now: The current time (default: now, UTC).

    Raises:
        NotFoundError: no such table or column.
        LifecycleError: the column is production, or its grace period is not over.
        InvalidArgumentError: a negative grace.
    """
    if grace < timedelta(0):
        raise InvalidArgumentError(f"grace must not be negative, got {grace}")
    table = ws.table(table_name)
    target = ws.resolve_column(table, column)
    current = production(table)
    _check_retirable(table, target, current.column if current else None, history(ws, table_name), grace, now)
    doomed, kept = _tag_plan(table, target.name)
    for tag in doomed:
        table.tags.delete(tag)
    table.drop_columns([target.name, target.src_column])
    version = table.version
    sync_latest_metadata(table, current.column if current else None)
    stats = table.to_lance().cleanup_old_versions(older_than=grace, error_if_tagged_old_versions=False)
    record = append_event(
        ws,
        table_name,
        "retire",
        actor=actor,
        now=now,
        from_column=target.name,
        to_column=None,
        from_version=None,
        to_version=version,
        reason=reason,
    )
    return RetireResult(
        table_name,
        target.name,
        version,
        tuple(doomed),
        tuple(kept),
        int(stats.old_versions),
        int(stats.bytes_removed),
        record,
    )


def out_of_production_since(events: Sequence[PromotionRecord], column: VectorColumn) -> datetime:
    """When ``column`` last stopped being production; its creation time if it never was."""
    left = [
        e.at
        for e in events
        if e.action in ("promote", "rollback") and e.from_column == column.name and e.to_column != column.name
    ]
    return _parse_time(left[-1] if left else column.created_at)


def _check_retirable(
    table: Table,
    target: VectorColumn,
    production_column: str | None,
    events: Sequence[PromotionRecord],
    grace: timedelta,
    now: datetime | None,
) -> None:
    if target.name == production_column:
        raise LifecycleError(
            f"{target.name} is the production column of {table.name!r}; promote another column "
            "(or roll back) first, then retire it after the grace period"
        )
    since = out_of_production_since(events, target)
    ends = since + grace
    if (now or datetime.now(UTC)) < ends:
        raise LifecycleError(
            f"{target.name} has been out of production only since {since.isoformat(timespec='seconds')}; "
            f"its grace period of {grace} ends at {ends.isoformat(timespec='seconds')}. Retire it then, "
            "or pass a shorter --grace if no one can need a rollback to it."
        )


def _tag_plan(table: Table, column: str) -> tuple[list[str], list[str]]:
    """Tags to delete (they exist for ``column``) and tags kept whose versions hold it."""
    doomed, kept = [], []
    dataset = table.to_lance()
    for tag, info in sorted(table.tags.list().items()):
        at = dataset.checkout_version(info["version"])
        if column not in at.schema.names:
            continue
        served = active_column_at(table, info["version"]) == column
        if tag == candidate_tag(column) or (tag.startswith(f"{PRODUCTION_TAG}-") and served):
            doomed.append(tag)
        else:
            kept.append(tag)
    return doomed, kept


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        log.warning("unreadable time %r; treating the column as out of production long ago", text)
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
