"""What production is: the one place every reader (status, serving, check, the app) asks.

Production is the ``production`` tag of a corpus table and the active column named in the
metadata of the version it points at (``workbench:active_column``). Nothing else: not the
latest version's metadata, not the history. A version written by an interrupted promotion is
therefore never mistaken for production.

The numbered tags are the ledger of production moves, and the rollback target is read from
them (never by replaying the history, which an interrupted command may not have reached):

- ``production-<n>``: the n-th move (a promotion or refresh), still in effect or below the top;
- ``rolled-back-<n>``: move n was undone by a rollback (the rollback's atomic claim);
- a number with neither tag: move n served a column that was retired since;
- ``retiring-<column>``: a retirement of ``column`` in progress.

The top of the ledger is the highest live ``production-<n>``; once every command finished, the
``production`` tag points at its version. A rollback goes to the live move just below the top,
skipping undone ones, and refuses when that move's column was retired.

This module reads; :mod:`workbench.production` (promote, recovery, retire) writes. It sits in
the storage layer because ``status`` (here) and the production moves (above) must agree on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.contract import (
    META_ACTIVE,
    PRODUCTION_TAG,
    parse_production_tag,
    parse_retiring_tag,
    parse_rolled_back_tag,
    production_tag,
)
from workbench.errors import CorruptStateError, LifecycleError
from workbench.store.workspace import VectorColumn, read_tags, vector_columns

if TYPE_CHECKING:
    from lance import LanceDataset

    from workbench.store.view import ReadableTable

__all__ = [
    "Ledger",
    "Production",
    "RollbackTarget",
    "active_column_at",
    "columns_at",
    "ledger",
    "production",
    "production_column",
    "rollback_from_tags",
    "unfinished",
]


@dataclass(frozen=True)
class Production:
    """Where the ``production`` tag points and the column that version names as active."""

    version: int
    column: str | None


@dataclass(frozen=True)
class Ledger:
    """The lifecycle tags of one table, read once (see the module docstring)."""

    production: int | None
    live: dict[int, int] = field(default_factory=dict)
    undone: dict[int, int] = field(default_factory=dict)
    retiring: dict[str, int] = field(default_factory=dict)

    @property
    def top(self) -> int | None:
        """The number of the newest move still in effect, or None."""
        return max(self.live, default=None)

    @property
    def numbers(self) -> set[int]:
        """Every move number a tag still carries."""
        return set(self.live) | set(self.undone)

    @property
    def claims(self) -> tuple[frozenset[int], frozenset[int]]:
        """The moves claimed (``production-<n>``) and undone (``rolled-back-<n>``) so far.

        It changes when a command claims a move (or a retirement prunes one), never when a
        claimed move is finished, so a command that compares it before its own claim knows
        whether production moved after it read it.
        """
        return frozenset(self.numbers), frozenset(self.undone)


@dataclass(frozen=True)
class RollbackTarget:
    """What a rollback would do now: undo move ``undo`` (at ``undo_version``) and serve ``version``."""

    undo: int
    undo_version: int
    number: int
    version: int
    column: str


def ledger(table: ReadableTable) -> Ledger:
    """The ``production`` tag and the numbered lifecycle tags of ``table`` (one tag listing)."""
    tags = {name: info["version"] for name, info in read_tags(table).items()}
    live, undone, retiring = {}, {}, {}
    for name, version in tags.items():
        if (n := parse_production_tag(name)) is not None:
            live[n] = version
        elif (n := parse_rolled_back_tag(name)) is not None:
            undone[n] = version
        elif (column := parse_retiring_tag(name)) is not None:
            retiring[column] = version
    return Ledger(tags.get(PRODUCTION_TAG), live, undone, retiring)


def production(table: ReadableTable) -> Production | None:
    """The ``production`` tag of ``table`` and the active column it names, or None before any.

    Raises:
        CorruptStateError: the tag points at a version whose manifest is missing or damaged.
    """
    version = ledger(table).production
    if version is None:
        return None
    return Production(version, active_column_at(table, version))


def production_column(table: ReadableTable) -> str | None:
    """The production vector column of ``table``, or None before the first promotion."""
    current = production(table)
    return None if current is None else current.column


def active_column_at(table: ReadableTable, version: int) -> str | None:
    """The active column named in the metadata of one version (O(1): reads its manifest).

    Raises:
        CorruptStateError: the version's manifest is missing or unreadable.
    """
    meta = _version(table, version).schema.metadata or {}
    raw = meta.get(META_ACTIVE.encode())
    return raw.decode() if raw else None


def columns_at(table: ReadableTable, version: int) -> dict[str, VectorColumn]:
    """The vector columns (with pins) of one version of ``table``, by name."""
    return {c.name: c for c in vector_columns(_version(table, version))}


def rollback_from_tags(
    table: ReadableTable, recorded: Mapping[str, tuple[int | None, str | None]] | None = None
) -> RollbackTarget:
    """A dry run of a rollback: the move it would undo and where production would go.

    Args:
        table: The corpus table.
        recorded: ``{tag: (version, column)}`` from the history, only to word the refusal when
            the previous move's column was retired (its tag is gone).

    Raises:
        LifecycleError: no production, nothing earlier, or the earlier one was retired.
    """
    book = ledger(table)
    top = book.top
    if book.production is None or top is None:
        raise LifecycleError(f"table {table.name!r} has no production version, so nothing to roll back")
    for n in range(top - 1, 0, -1):
        if n in book.undone:
            continue
        if n in book.live:
            version = book.live[n]
            column = active_column_at(table, version)
            if column is None or column not in columns_at(table, version):
                raise CorruptStateError(
                    f"{production_tag(n)} of {table.name!r} (v{version}) names no vector column it has; "
                    "re-promote a column instead of rolling back"
                )
            return RollbackTarget(top, book.live[top], n, version, column)
        raise LifecycleError(_retired_message(table, n, (recorded or {}).get(production_tag(n))))
    raise LifecycleError(
        f"no earlier production version of {table.name!r} to roll back to: v{book.live[top]} is "
        "the oldest production in effect (see `workbench history`)"
    )


def unfinished(table: ReadableTable) -> list[str]:
    """What the tags show of commands a crash interrupted, one line each, with the fix.

    Readers report these; they never act on them (re-running the command finishes it).
    """
    book = ledger(table)
    notes = []
    for n in sorted(set(book.undone) & set(book.live)):
        notes.append(
            f"a rollback of {production_tag(n)} was interrupted; re-run `workbench rollback` to finish it"
        )
    top = book.top
    if top is not None and book.production is not None and book.live[top] != book.production:
        notes.append(
            f"production is v{book.production} but the newest move {production_tag(top)} is "
            f"v{book.live[top]}: a promote, refresh or rollback was interrupted (re-run it to finish), "
            "or the tag was moved by hand"
        )
    for column in sorted(book.retiring):
        notes.append(f"retiring {column} was interrupted; re-run `workbench retire {column}` to finish it")
    return notes


def _retired_message(
    table: ReadableTable, number: int, recorded: tuple[int | None, str | None] | None
) -> str:
    version, column = recorded or (None, None)
    known = {v["version"] for v in table.list_versions()}
    if version is None or version not in known or column is None:
        where = f" v{version}" if version is not None else f" ({production_tag(number)})"
        return (
            f"the previous production{where} of {table.name!r} has been pruned (its column was "
            "retired, or its tag removed); there is nothing safe to roll back to"
        )
    return (
        f"the previous production v{version} of {table.name!r} served {column}, which has been "
        "retired since; there is nothing safe to roll back to"
    )


def _version(table: ReadableTable, version: int) -> LanceDataset:
    try:
        return table.to_lance().checkout_version(version)
    except (OSError, ValueError, RuntimeError) as exc:
        raise CorruptStateError(
            f"version {version} of table {table.name!r} cannot be read ({_first_line(exc)}); a tag points "
            "at it, so its manifest was deleted or damaged outside the workbench. Restore the folder "
            "from a backup, or move the tag to a readable version."
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
