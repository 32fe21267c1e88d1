"""Scheduled maintenance, run by each monitoring pass: retire old columns, compact, prune versions.

A migration is finished when the old column is gone, by a background job rather than a fire
drill. :func:`maintain` does, in this order, what a careful operator would:

0. **Finish** every retirement a crash interrupted (its ``retiring-<column>`` claim is still
   there; :func:`finish_retirements`), with the recovery ``workbench retire`` has. Without it a
   retirement killed after the column was dropped would never be due again (the column is no
   longer in the table): no history record, the claim left forever.
1. **Retire** (:func:`workbench.production.retire.retire`) every vector column that left
   production more than ``grace`` ago. Never the production column; never a column that was
   never production (a candidate still under evaluation is the team's to retire); never a
   column that a team's own tag (anything but ``production``, ``production-<n>`` and
   ``candidate-*``) still serves, since someone pinned that version on purpose.
2. **Compact** the table's fragments (Lance ``compact_files``; the rows and their hashes are
   unchanged, vector indexes are remapped) when there is anything to compact.
3. **Prune** versions older than ``grace`` that no tag needs, with Lance's
   ``cleanup_old_versions(error_if_tagged_old_versions=False)`` (LanceDB's own ``optimize``
   raises, after compacting, as soon as a tagged version is old), and the same for the
   workbench's record tables (``wb_*``), which gain a version per append.

Each retirement and each compaction or pruning that changed something is recorded in the
history. Every step is idempotent, so a pass that crashes midway is completed by the next.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from workbench.contract import PRODUCTION_TAG, RESERVED_PREFIX, parse_production_tag
from workbench.production.history import PromotionRecord, append_event, history
from workbench.production.retire import out_of_production_since, retire
from workbench.store.production import active_column_at, ledger, production

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.store.workspace import VectorColumn, Workspace

__all__ = [
    "RESUMED",
    "SCHEDULED",
    "compact_and_prune",
    "due_for_retirement",
    "finish_retirements",
    "maintain",
    "prune_records",
]


log = logging.getLogger(__name__)

SCHEDULED = "scheduled retirement: out of production longer than retire_after"
RESUMED = "an interrupted retirement, finished by a monitoring pass"


def maintain(
    ws: Workspace,
    table_name: str,
    *,
    grace: timedelta,
    cleanup: bool = True,
    actor: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Retire what is due, compact and prune (see the module docstring); one line per action."""
    now = now or datetime.now(UTC)
    actions = finish_retirements(ws, table_name, grace=grace, actor=actor, now=now)
    table = ws.table(table_name)
    for column in due_for_retirement(ws, table, grace=grace, now=now):
        result = retire(ws, table_name, column.name, grace=grace, actor=actor, reason=SCHEDULED, now=now)
        actions.append(result.message)
    if cleanup:
        line = compact_and_prune(ws, table_name, older_than=grace, actor=actor, now=now)
        if line:
            actions.append(line)
        prune_records(ws, older_than=grace)
    return actions


def finish_retirements(
    ws: Workspace, table_name: str, *, grace: timedelta, actor: str | None, now: datetime | None
) -> list[str]:
    """Finish every claimed but unfinished retirement of ``table_name``; one line each.

    The same recovery as re-running ``workbench retire COLUMN``: each step after the claim is
    idempotent (drop, tags, the history record once, release the claim, prune), so this is
    safe whichever step the crash came after. The record of a retirement whose history
    append was lost gets the reason :data:`RESUMED` (who started it is not recorded).
    """
    return [
        retire(ws, table_name, column, grace=grace, actor=actor, reason=RESUMED, now=now).message
        for column in sorted(ledger(ws.table(table_name)).retiring)
    ]


def due_for_retirement(ws: Workspace, table: Table, *, grace: timedelta, now: datetime) -> list[VectorColumn]:
    """Columns that left production more than ``grace`` ago and that no team tag serves."""
    current = production(table)
    events = history(ws, table.name)
    kept = _served_by_team_tags(table)
    due = []
    for column in ws.vector_columns(table):
        if current is not None and column.name == current.column:
            continue
        if not _left_production(events, column.name) or column.name in kept:
            continue
        if out_of_production_since(events, column) + grace <= now:
            due.append(column)
    return due


def compact_and_prune(
    ws: Workspace, table_name: str, *, older_than: timedelta, actor: str | None, now: datetime | None
) -> str | None:
    """Compact the corpus table and prune untagged old versions; the history line, or None."""
    table = ws.table(table_name)
    dataset = table.to_lance()
    compacted = dataset.optimize.compact_files()
    stats = dataset.cleanup_old_versions(older_than=older_than, error_if_tagged_old_versions=False)
    table.checkout_latest()
    if not compacted.fragments_removed and not stats.old_versions:
        return None
    reason = (
        f"compacted {compacted.fragments_removed} fragments into {compacted.fragments_added}; pruned "
        f"{stats.old_versions} versions older than {older_than} that no tag needs "
        f"({stats.bytes_removed / 1e6:.1f} MB)"
    )
    record = append_event(
        ws,
        table_name,
        "maintain",
        actor=actor,
        now=now,
        from_column=None,
        to_column=None,
        from_version=None,
        to_version=table.version,
        reason=reason,
    )
    return record.message


def prune_records(ws: Workspace, *, older_than: timedelta) -> None:
    """Prune old versions of the workbench's own record tables (they have no tags)."""
    for name in ws.table_names(include_internal=True):
        if name.startswith(RESERVED_PREFIX):
            ws.db.open_table(name).to_lance().cleanup_old_versions(
                older_than=older_than, error_if_tagged_old_versions=False
            )


def _left_production(events: Sequence[PromotionRecord], column: str) -> bool:
    return any(e.action in ("promote", "rollback") and e.from_column == column for e in events)


def _served_by_team_tags(table: Table) -> set[str]:
    """Columns active at versions that a team's own tag points at."""
    served = set()
    for tag, info in table.tags.list().items():
        workbench_tag = (
            tag == PRODUCTION_TAG or parse_production_tag(tag) is not None or tag.startswith("candidate-")
        )
        if not workbench_tag:
            column = active_column_at(table, info["version"])
            if column:
                served.add(column)
    return served
