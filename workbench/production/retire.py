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

``rolled-back-<n>`` markers of such versions are re-pointed at the version without the column
(they only record that move ``n`` was undone, and must not keep the files alive).

A retirement is claimed first with the tag ``retiring-<column>`` on the last version that holds
the column (a concurrent retirement fails there); then the column is dropped, the tags above are
applied, the history is written, the claim released and old versions pruned. Each step is
idempotent, so re-running ``retire`` after a crash at any point finishes the job; re-running it
once it is done reports the retirement already recorded (and prunes again).

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

from workbench.contract import (
    PRODUCTION_TAG,
    candidate_tag,
    parse_rolled_back_tag,
    retiring_tag,
)
from workbench.errors import ConcurrentChangeError, InvalidArgumentError, LifecycleError, NotFoundError
from workbench.formatting import duration
from workbench.killpoints import reached
from workbench.production.history import PromotionRecord, append_event, history
from workbench.production.recovery import finish_moves, move_lock
from workbench.store.failures import explain
from workbench.store.production import active_column_at, columns_at, ledger, production
from workbench.store.workspace import set_tag

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
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*\Z")
_MAX_GRACE = timedelta(days=36500)
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
        again = "(re-run; the retirement is complete) " if self.record.resumed else ""
        return (
            f"{again}retired {self.column} from {self.table!r} at v{self.version}; deleted tags: "
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
    try:
        duration = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    except OverflowError:
        duration = timedelta.max
    if duration > _MAX_GRACE:
        raise InvalidArgumentError(
            f"duration {text!r} is longer than 100 years ({_MAX_GRACE.days} days); give a realistic "
            "grace period such as 7d or 2w"
        )
    return duration


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
        ConcurrentChangeError: a production move (or another retirement) of the table is running.
    """
    if grace < timedelta(0):
        raise InvalidArgumentError(f"grace must not be negative, got {duration(grace)}")
    table = ws.table(table_name)
    with move_lock(ws, table_name, "retirement"):  # no production move runs meanwhile
        finish_moves(ws, table_name, actor=actor, reason=reason, now=now)
        claimed = _claimed_column(ws, table, column)
        if claimed is None:
            done = _already_retired(ws, table, column)
            if done is not None:
                return _prune(table, done, grace, deleted=[], resumed=True)
            target = ws.resolve_column(table, column)
            current = production(table)
            events = history(ws, table_name)
            _check_retirable(table, target, current.column if current else None, events, grace, now)
            name = target.name
            try:
                table.tags.create(retiring_tag(name), table.version)
            except (RuntimeError, ValueError) as exc:  # "Ref conflict": a concurrent retirement claimed it
                if retiring_tag(name) not in table.tags.list():  # no claim: a read-only or full disk, damage
                    raise (explain(exc) or exc) from exc
                raise ConcurrentChangeError(
                    f"another retirement of {name} from {table_name!r} is running ({retiring_tag(name)} "
                    "exists); this one changed nothing. Re-run `workbench retire` to finish it if it stopped."
                ) from exc
            reached("retire:claimed")
        else:
            name = claimed
        record, deleted = _complete(ws, table_name, name, actor=actor, reason=reason, now=now)
        return _prune(ws.table(table_name), record, grace, deleted=deleted, resumed=claimed is not None)


def _claimed_column(ws: Workspace, table: Table, column: str) -> str | None:
    """The column of an interrupted retirement ``column`` names (by column name or alias), if any."""
    claims = ledger(table).retiring
    if column in claims:
        return column
    known = ws.config.all_models()
    if column in known and known[column].column in claims:
        return known[column].column
    return None


def _already_retired(ws: Workspace, table: Table, column: str) -> PromotionRecord | None:
    """The retirement record of ``column`` if it is gone from the table because it was retired."""
    known = ws.config.all_models()
    name = known[column].column if column in known else column
    if name in table.schema.names:
        return None
    done = [e for e in history(ws, table.name) if e.action == "retire" and e.from_column == name]
    return done[-1] if done else None


def _complete(
    ws: Workspace, table_name: str, column: str, *, actor: str | None, reason: str, now: datetime | None
) -> tuple[PromotionRecord, list[str]]:
    """Every step after the claim, each idempotent: drop, tags, history, release the claim."""
    table = ws.table(table_name)
    claim = retiring_tag(column)
    holder = ledger(table).retiring[column]
    src = columns_at(table, holder)[column].src_column
    dropping = [c for c in (column, src) if c in table.schema.names]
    if dropping:
        table.drop_columns(dropping)
    reached("retire:dropped")
    version = _dropped_at(table, column, after=holder)
    deleted = _apply_tag_plan(table, column, version)
    reached("retire:tags")
    record = append_event(
        ws,
        table_name,
        "retire",
        actor=actor,
        now=now,
        from_column=column,
        to_column=None,
        from_version=None,
        to_version=version,
        tag=claim,
        reason=reason,
    )
    reached("retire:recorded")
    if claim in table.tags.list():
        table.tags.delete(claim)
    reached("retire:released")
    return record, deleted


def _prune(
    table: Table, record: PromotionRecord, grace: timedelta, *, deleted: list[str], resumed: bool
) -> RetireResult:
    """Prune untagged versions older than ``grace`` (idempotent) and report the retirement."""
    from dataclasses import replace

    stats = table.to_lance().cleanup_old_versions(older_than=grace, error_if_tagged_old_versions=False)
    reached("retire:pruned")
    column = record.from_column or ""
    kept = tuple(sorted(n for n, i in table.tags.list().items() if column in columns_at(table, i["version"])))
    return RetireResult(
        table.name,
        column,
        int(record.to_version or table.version),
        tuple(deleted),
        kept,
        int(stats.old_versions),
        int(stats.bytes_removed),
        replace(record, resumed=resumed),
    )


def _dropped_at(table: Table, column: str, *, after: int) -> int:
    """The first version after ``after`` without ``column`` (where the drop was committed)."""
    for info in sorted(table.list_versions(), key=lambda v: v["version"]):
        version = info["version"]
        if version > after and column not in table.to_lance().checkout_version(version).schema.names:
            return version
    raise NotFoundError(
        f"no version of {table.name!r} after v{after} lacks {column}; the drop did not commit"
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
            f"its grace period of {duration(grace)} ends at {ends.isoformat(timespec='seconds')}. Retire it "
            "then, or pass a shorter --grace if no one can need a rollback to it."
        )


def _apply_tag_plan(table: Table, column: str, dropped: int) -> list[str]:
    """Delete the tags that exist for ``column``; re-point undo markers at ``dropped`` (idempotent)."""
    deleted = []
    for tag, info in sorted(table.tags.list().items()):
        if tag == retiring_tag(column) or tag == PRODUCTION_TAG:
            continue
        if column not in table.to_lance().checkout_version(info["version"]).schema.names:
            continue
        served = active_column_at(table, info["version"]) == column
        if parse_rolled_back_tag(tag) is not None:
            set_tag(table, tag, dropped)
        elif tag == candidate_tag(column) or (tag.startswith(f"{PRODUCTION_TAG}-") and served):
            table.tags.delete(tag)
            deleted.append(tag)
    log.info("retiring %s from %r deleted tags: %s", column, table.name, ", ".join(deleted) or "none")
    return deleted


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        log.warning("unreadable time %r; treating the column as out of production long ago", text)
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
