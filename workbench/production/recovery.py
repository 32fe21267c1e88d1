"""Finishing production moves: the second half of every promote, refresh and rollback.

A move is claimed by one atomic tag creation and then completed by steps that are each
idempotent, so the code that completes a fresh move is the code that finishes one a crash
interrupted:

- a promote or refresh claimed ``production-<n>`` on a version whose metadata carries its
  record (``workbench:promotion``); completing it moves ``production`` there (if ``n`` is the
  newest move) and appends that record to the history, once;
- a rollback claimed ``rolled-back-<n>``; completing it deletes ``production-<n>``, moves
  ``production`` to the newest move still in effect and appends the record, once.

:func:`finish_moves` runs at the start of every production command, so re-running an
interrupted command finishes it (and the command then returns that record instead of moving
production a second time). Nothing here moves production anywhere a claimed command did not ask.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from workbench.contract import (
    META_PROMOTION,
    PRODUCTION_TAG,
    parse_production_tag,
    parse_rolled_back_tag,
    production_tag,
    rolled_back_tag,
)
from workbench.errors import ConcurrentChangeError
from workbench.killpoints import reached
from workbench.production.history import PromotionRecord, append_event, from_intent, history
from workbench.store.locks import hold
from workbench.store.production import Ledger, active_column_at, ledger
from workbench.store.workspace import set_tag

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.store.workspace import Workspace

log = logging.getLogger(__name__)

__all__ = [
    "finish_moves",
    "finish_rollback",
    "move_lock",
    "next_number",
    "recorded_moves",
    "require_unmoved",
]


@contextmanager
def move_lock(ws: Workspace, table_name: str, action: str) -> Iterator[None]:
    """Hold ``table_name``'s production lock for one whole move (see :mod:`workbench.store.locks`).

    Every command that moves production or finishes a move (promote, rollback, refresh,
    retire) runs under it, from its first read to its history record. So a second command
    refuses at once instead of deciding on a production that is about to change, and
    :func:`finish_moves` only ever meets moves whose command really was interrupted (never one
    another process is still completing, which it would record a second time).

    Raises:
        ConcurrentChangeError: another move of this table is running; nothing was read or written.
    """
    with hold(
        ws.state_dir,
        f"production-{table_name}",
        what=f"a {action} of {table_name!r}",
        busy=f"another production move of {table_name!r} is running",
        fix="Run it again once that one finished, if it still applies (see `workbench status`).",
    ):
        yield


def require_unmoved(table: Table, seen: Ledger, action: str) -> None:
    """Refuse to claim a move when production moved after the command read ``seen``.

    The compare-and-set before every claim: with :func:`move_lock` nothing can move in between
    on this machine; this also catches a writer that does not share the lock (another machine
    on an object store) up to the claim itself.

    Raises:
        ConcurrentChangeError: another move was claimed (or undone) since ``seen``.
    """
    now = ledger(table)
    if now.claims == seen.claims:
        return
    new = [production_tag(n) for n in sorted(now.numbers - seen.numbers)]
    new += [rolled_back_tag(n) for n in sorted(set(now.undone) - set(seen.undone))]
    raise ConcurrentChangeError(
        f"production of {table.name!r} moved after this {action} read it ({', '.join(new) or 'tags removed'} "
        f"by another process); this {action} changed nothing. Check `workbench status` and run it again "
        "if it still applies."
    )


def finish_moves(
    ws: Workspace, table_name: str, *, actor: str | None, reason: str = "", now: datetime | None = None
) -> list[PromotionRecord]:
    """Complete every claimed but unfinished move of ``table_name``; their records, oldest first.

    ``actor``, ``reason`` and ``now`` are used only for a rollback whose claim was all that was
    written (a promote or refresh finishes with the record it wrote into its version).
    """
    table = ws.table(table_name)
    book = ledger(table)
    tags = {e.tag for e in history(ws, table_name) if e.tag}
    done = []
    for number in sorted(book.undone):
        if rolled_back_tag(number) not in tags:
            done.append(finish_rollback(ws, table_name, number, actor=actor, reason=reason, now=now))
    book = ledger(ws.table(table_name))
    for number in sorted(book.live):
        if production_tag(number) not in tags:
            done.append(_finish_publish(ws, table_name, number, top=number == book.top, actor=actor, now=now))
    for record in done:
        log.info("completed %s: %s", record.action, record.message)
    return [replace(r, resumed=True) for r in done]


def finish_rollback(
    ws: Workspace,
    table_name: str,
    number: int,
    *,
    actor: str | None,
    reason: str = "",
    now: datetime | None = None,
) -> PromotionRecord:
    """Complete the rollback that claimed ``rolled-back-<number>`` (each step idempotent)."""
    table = ws.table(table_name)
    undone = ledger(table).undone[number]
    if production_tag(number) in table.tags.list():
        _delete_tag(table, production_tag(number))
    reached("rollback:popped")
    book = ledger(table)
    top = book.top
    if top is None:  # only possible if the tags were edited by hand
        raise _no_target(table_name, number)
    version = book.live[top]
    if book.production != version:
        set_tag(table, PRODUCTION_TAG, version)
    reached("rollback:moved")
    record = append_event(
        ws,
        table_name,
        "rollback",
        actor=actor,
        now=now,
        from_column=active_column_at(table, undone),
        to_column=active_column_at(table, version),
        from_version=undone,
        to_version=version,
        tag=rolled_back_tag(number),
        reason=reason,
    )
    reached("rollback:recorded")
    return record


def _finish_publish(
    ws: Workspace, table_name: str, number: int, *, top: bool, actor: str | None, now: datetime | None
) -> PromotionRecord:
    """Complete the promote or refresh that claimed ``production-<number>``."""
    table = ws.table(table_name)
    version = ledger(table).live[number]
    intent = from_intent(_intent_text(table, version))
    action = intent.pop("action", "promote")
    if top and ledger(table).production != version:
        set_tag(table, PRODUCTION_TAG, version)
    reached(f"{action}:moved")
    fields = {k: intent.get(k) for k in ("from_column", "from_version", "comparison_id", "gate")}
    flags = {k: bool(intent.get(k, False)) for k in ("forced", "initial")}
    record = append_event(
        ws,
        table_name,
        action,
        actor=intent.get("actor") or actor,
        now=now,
        at=intent.get("at"),
        to_column=active_column_at(table, version),
        to_version=version,
        tag=production_tag(number),
        reason=str(intent.get("reason") or ""),
        **fields,
        **flags,
    )
    reached(f"{action}:recorded")
    return record


def next_number(ws: Workspace, table: Table) -> int:
    """The next ``n`` of ``production-<n>``: after every numbered tag and every recorded one."""
    used = list(ledger(table).numbers)
    for record in history(ws, table.name):
        for parse in (parse_production_tag, parse_rolled_back_tag):
            if record.tag and (n := parse(record.tag)) is not None:
                used.append(n)
    return max(used, default=0) + 1


def recorded_moves(events: Sequence[PromotionRecord]) -> dict[str, tuple[int | None, str | None]]:
    """``{production-<n>: (version, column)}`` of every recorded promote and refresh."""
    moves = [e for e in events if e.tag and e.action in ("promote", "refresh")]
    return {e.tag: (e.to_version, e.to_column) for e in moves if e.tag}


def _intent_text(table: Table, version: int) -> str | None:
    meta = table.to_lance().checkout_version(version).schema.metadata or {}
    raw = meta.get(META_PROMOTION.encode())
    return raw.decode() if raw else None


def _delete_tag(table: Table, tag: str) -> None:
    try:
        table.tags.delete(tag)
    except (RuntimeError, ValueError):  # another process finishing the same move deleted it first
        if tag in table.tags.list():
            raise


def _no_target(table_name: str, number: int) -> Exception:
    from workbench.errors import CorruptStateError

    return CorruptStateError(
        f"{rolled_back_tag(number)} of {table_name!r} undid the only production move; no "
        "production-<n> tag is left to serve. Promote a column with --force --reason TEXT."
    )
