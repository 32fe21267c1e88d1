"""Serving from production, with the "never query a mixed-version index" rule made executable.

A :class:`ProductionIndex` resolves the ``production`` tag once and holds that one immutable
version: the data and the active column the version names. Before the first query it checks
that the column exists there, that no row is missing a vector or has a stale one
(:class:`~workbench.errors.StaleColumnError`), and that the model it loads is exactly the
column's pin (:class:`~workbench.errors.MixedIndexError` otherwise); then queries are encoded
by that model and searched against that column only. :func:`check` runs the same validation
for a deployment and reports every problem; :func:`search` is the one-shot form.

Following a promotion: a LanceDB handle stays on the version it resolved and does not follow a
moved tag, which is what keeps a reader consistent while another process promotes, rolls back,
dual-writes or retires. A serving process therefore re-opens the tag to follow a promotion:
call :meth:`ProductionIndex.follow` periodically (or on a deploy signal) and swap the returned
index in; it is the same object while the tag has not moved, and it reuses the loaded model
when the column's pin is unchanged.

Serving through a Drift-Adapter is a mode of the same index: ``ProductionIndex.open(ws, table,
adapter=ID)`` validates that production serves exactly the adapter's target column and pin and
that the query model is exactly its source pin (:class:`~workbench.errors.MixedIndexError`
otherwise, also when :meth:`ProductionIndex.follow` finds production moved to another column);
queries are then encoded by the new model, mapped into the old space, and searched by the same
path (the column's ANN index with its pinned search parameters).

Query log (opt-in): give :meth:`ProductionIndex.open` a
:class:`~workbench.store.query_log.QueryLog` and each answered query is offered to it (sampled,
size-bounded, text hashed by default) with the cosine scores it returned; monitoring follows
the distribution of those scores over time (:mod:`workbench.monitoring.monitor`).

Example:
    >>> index = ProductionIndex.open(open_workspace("workspace"), "demo")  # doctest: +SKIP
    >>> index.search("how do I roll back a model?", k=5).hits[0].id  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from workbench.checks import positive_int
from workbench.contract import PRODUCTION_TAG
from workbench.decide.adapters.binding import (
    adapted_queries,
    require_target_column,
    resolve_adapter,
    source_embedder,
)
from workbench.errors import (
    CanaryMismatchError,
    CorruptStateError,
    FingerprintMismatchError,
    InvalidArgumentError,
    LifecycleError,
    MixedIndexError,
    StaleColumnError,
    WorkbenchError,
)
from workbench.models.canary import CanaryPin, CanaryResult, last_result
from workbench.models.loading import load_embedder, recalled_check
from workbench.production.history import MOVES, history
from workbench.production.promote import data_unchanged_since
from workbench.retrieval.encode import embedder_for, encode_queries
from workbench.store.canaries import record_check
from workbench.store.index import IndexInfo, describe_indexes, served_search
from workbench.store.production import production, unfinished
from workbench.store.status import column_problems
from workbench.store.workspace import VectorColumn, Workspace, read_tags

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.decide.adapters.artifact import Adapter
    from workbench.models.embedder import Embedder
    from workbench.store.query_log import QueryLog

__all__ = [
    "CheckReport",
    "Hit",
    "ProductionIndex",
    "SearchResult",
    "check",
    "check_query",
    "check_tables",
    "resolve_production",
    "search",
    "verified_embedder",
    "verify_column",
]

log = logging.getLogger(__name__)

_PROBE = "workbench start-up check"


@dataclass(frozen=True)
class Hit:
    """One search result; ``score`` is the cosine similarity."""

    rank: int
    id: str
    title: str
    text: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    """The hits of one query and exactly what produced them."""

    query: str
    table: str
    version: int
    column: str
    model: str
    hits: tuple[Hit, ...]
    index: str = "exact"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CheckReport:
    """The start-up validation of a deployment: ``problems`` fail it, ``notes`` inform."""

    table: str
    version: int | None
    column: str | None
    model: str | None
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    canaries: str = ""
    """How the model's canaries were checked: ``re-embedded`` or ``remembered`` (a local model
    whose files and libraries are unchanged since a check that passed; see
    :mod:`workbench.models.verified`); empty when the check did not get that far."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class ProductionIndex:
    """A serving handle: one production version, validated, searched with its own model.

    Build it with :meth:`open`. Every search sees the same data and column whatever other
    processes do meanwhile; :meth:`follow` returns the index for where the tag points now.
    """

    def __init__(
        self,
        ws: Workspace,
        table: Table,
        column: VectorColumn,
        embedder: Embedder,
        *,
        query_log: QueryLog | None = None,
        adapter: Adapter | None = None,
    ) -> None:
        self.ws = ws
        self.table = table
        self.column = column
        self.embedder = embedder
        self.index: IndexInfo | None = describe_indexes(table).get(column.name)
        """The column's ANN index at this version (searched with its recorded parameters), or None."""
        self.query_log = query_log
        self.adapter = adapter
        """The Drift-Adapter queries are mapped through (new model → this column's space), or None."""

    def __repr__(self) -> str:
        via = f" via {self.adapter.id}" if self.adapter is not None else ""
        return f"ProductionIndex({self.table.name!r}, v{self.version}, {self.column.name}{via})"

    @property
    def version(self) -> int:
        return self.table.version

    @classmethod
    def open(
        cls,
        ws: Workspace,
        table: str | None = None,
        *,
        embedder: Embedder | None = None,
        query_log: QueryLog | None = None,
        adapter: str | Adapter | None = None,
    ) -> ProductionIndex:
        """Resolve ``production`` of ``table`` and validate it (see the module docstring).

        Args:
            ws: The workspace.
            table: The corpus table (default: the adapter's table, else the only one).
            embedder: An already-loaded model; it must be the active column's pin (with an
                adapter: the adapter's source pin).
            query_log: Where answered queries are logged (sampled), for monitoring; None: not logged.
            adapter: Serve new-model queries through this Drift-Adapter (id or object).

        Raises:
            LifecycleError: the table has no production tag.
            MixedIndexError: the version names no usable column, or the model is not its pin;
                with an adapter: production serves another column or pin than the adapter's
                target, or the query model is not its source pin.
            StaleColumnError: the column has missing or stale rows at that version.
            NotFoundError: no such adapter.
        """
        if adapter is not None:
            return cls._open_adapted(ws, table, adapter, embedder, query_log)
        handle, column = resolve_production(ws, table or ws.default_table())
        verify_column(handle, column)
        return cls(ws, handle, column, verified_embedder(column, embedder), query_log=query_log)

    @classmethod
    def _open_adapted(
        cls,
        ws: Workspace,
        table: str | None,
        adapter: str | Adapter,
        embedder: Embedder | None,
        query_log: QueryLog | None,
    ) -> ProductionIndex:
        fitted = resolve_adapter(ws, adapter, table)
        handle, column = resolve_production(ws, fitted.table)
        where = f"production v{handle.version} of {fitted.table!r}"
        require_target_column(column, fitted, where=where)
        verify_column(handle, column)
        model = source_embedder(fitted, embedder or load_embedder(ws.located(fitted.source_pin)))
        adapted_queries(fitted, model, [_PROBE])
        return cls(ws, handle, column, model, query_log=query_log, adapter=fitted)

    def follow(self, embedders: Mapping[str, Embedder] | None = None) -> ProductionIndex:
        """This index if ``production`` has not moved, else a newly opened and validated one.

        Args:
            embedders: Already-loaded models by column name, for the column production may
                have moved to (this index's own model is reused when its column is still active).
        """
        tag = read_tags(self.ws.table(self.table.name)).get(PRODUCTION_TAG)
        if tag is not None and tag["version"] == self.version:
            return self
        if self.adapter is not None:  # re-validated: refuses if production moved to another column
            return ProductionIndex._open_adapted(
                self.ws, self.table.name, self.adapter, self.embedder, self.query_log
            )
        handle, column = resolve_production(self.ws, self.table.name)
        verify_column(handle, column)
        known = {self.column.name: self.embedder, **(embedders or {})}
        log.info("production of %r moved: v%d → v%d", self.table.name, self.version, handle.version)
        model = verified_embedder(column, known.get(column.name))
        return ProductionIndex(self.ws, handle, column, model, query_log=self.query_log)

    @classmethod
    def at_version(
        cls, ws: Workspace, table: str, column: str, version: int, *, embedder: Embedder | None = None
    ) -> ProductionIndex:
        """A serving handle on ``column`` at ``version`` (a rollout's candidate), validated as :meth:`open`.

        Raises:
            NotFoundError: no such table or column at that version.
            StaleColumnError, MixedIndexError, CanaryMismatchError: as :meth:`open`.
        """
        handle = ws.table(table)
        try:
            handle.checkout(version)
        except (OSError, RuntimeError, ValueError) as exc:
            raise CorruptStateError(
                f"version {version} of {table!r} cannot be opened ({str(exc).splitlines()[0][:200]}); "
                "it was cleaned up or damaged. Start the rollout again (`workbench rollout …`)."
            ) from exc
        target = ws.resolve_column(handle, column)
        verify_column(handle, target)
        return cls(ws, handle, target, verified_embedder(target, embedder))

    def search(self, query: str, *, k: int = 10, where: str | None = None) -> SearchResult:
        """The ``k`` nearest documents to ``query`` in the production column.

        Args:
            query: The text to search for.
            k: How many results.
            where: A LanceDB SQL filter on the table's scalar columns, applied before the
                vector search (``"title LIKE '%model%'"``).

        Raises:
            InvalidArgumentError: an empty query, ``k`` < 1, or a filter LanceDB cannot run.
        """
        return self.search_batch([query], k=k, where=where)[0]

    def search_batch(
        self, queries: Sequence[str], *, k: int = 10, where: str | None = None
    ) -> list[SearchResult]:
        """:meth:`search` for many queries, encoded in one batch."""
        for query in queries:
            check_query(query, k)
        if self.adapter is not None:
            vectors = adapted_queries(self.adapter, self.embedder, list(queries))
        else:
            vectors = encode_queries(self.embedder, self.column, list(queries))
        return [self._search_vector(q, v, k=k, where=where) for q, v in zip(queries, vectors, strict=True)]

    def _search_vector(self, query: str, vector: Any, *, k: int, where: str | None) -> SearchResult:
        spec = self.index.spec if self.index is not None else None
        try:
            rows = served_search(self.table, self.column.name, vector, spec, k=k, where=where)
        except (RuntimeError, ValueError, OSError) as exc:
            if where is None:
                raise
            raise InvalidArgumentError(
                f"the filter {where!r} cannot be applied ({str(exc).splitlines()[0][:160]}); give a SQL "
                "condition on the table's columns, e.g. \"title LIKE '%model%'\""
            ) from exc
        hits = tuple(
            Hit(rank, row["id"], row["title"] or "", row["text"] or "", 1.0 - float(row["_distance"]))
            for rank, row in enumerate(rows, start=1)
        )
        if self.query_log is not None:
            self.query_log.record(
                self.table.name,
                query=query,
                version=self.version,
                column=self.column.name,
                scores=[hit.score for hit in hits],
                ids=[hit.id for hit in hits],
            )
        return SearchResult(
            query, self.table.name, self.version, self.column.name, self.model, hits, self.searched_with
        )

    @property
    def model(self) -> str:
        """What encodes the queries: the column's pin, or ``<new pin> via adapter <id>``."""
        if self.adapter is None:
            return self.column.ref.pin
        return f"{self.adapter.source_pin.pin} via adapter {self.adapter.id}"

    @property
    def searched_with(self) -> str:
        """``exact``, or the index and its search parameters (``IVF_PQ nprobes=16 refine_factor=10``)."""
        return "exact" if self.index is None else self.index.describe()


def search(
    ws: Workspace,
    query: str,
    *,
    table: str | None = None,
    k: int = 10,
    embedder: Embedder | None = None,
    query_log: QueryLog | None = None,
    adapter: str | Adapter | None = None,
) -> SearchResult:
    """Search production once: open and validate the tag, encode with the column's pin, search.

    With ``adapter``, the query is encoded by the adapter's source (new) model and mapped into
    the production column's space; refused unless both pins match (see :meth:`ProductionIndex.open`).

    A serving process should keep a :class:`ProductionIndex` instead (validated once). With a
    ``query_log`` the query is offered to it and the log is flushed.

    Raises:
        InvalidArgumentError: an empty query or ``k`` < 1 (before anything is loaded).
        LifecycleError, MixedIndexError, StaleColumnError: see :meth:`ProductionIndex.open`.
    """
    check_query(query, k)
    index = ProductionIndex.open(ws, table, embedder=embedder, query_log=query_log, adapter=adapter)
    result = index.search(query, k=k)
    if query_log is not None:
        query_log.flush()
    return result


def check(ws: Workspace, table: str | None = None, *, embedder: Embedder | None = None) -> CheckReport:
    """Run the start-up validation of :meth:`ProductionIndex.open` and report every problem.

    Notes (not problems) say when production lags the latest version (documents ingested
    since are not served until ``workbench refresh``), when the tag disagrees with the
    recorded history (moved outside the workbench, or an interrupted promotion), or when the
    passing canary check could not be recorded (a read-only or full disk: the check itself ran).

    Raises:
        NotFoundError: no such table (a usage error, not a finding of the check).
    """
    name = table or ws.default_table()
    ws.table(name)  # an unknown table is a usage error (NotFoundError), not a deployment problem
    try:
        handle, column = resolve_production(ws, name)
    except WorkbenchError as exc:
        return CheckReport(name, None, None, None, (str(exc),), ())
    problems, unrecorded, how = [], [], ""
    try:
        verify_column(handle, column)
    except WorkbenchError as exc:
        problems.append(str(exc))
    recalled = _recalled(column) if embedder is None else None
    if recalled is not None:  # same files and libraries as a passing check: the model is not loaded
        note = record_check(ws, column.name, recalled, context="check")
        if note is not None:
            unrecorded.append(note)
        how = (
            f"remembered: passed at {recalled.checked_at}, the model's files and libraries are "
            "unchanged (`workbench models verify ALIAS` re-embeds them)"
        )
    else:
        try:
            model = verified_embedder(column, embedder)
        except WorkbenchError as exc:
            problems.append(str(exc))
        else:
            canary = last_result(model)
            note = record_check(ws, column.name, canary, context="check") if canary is not None else None
            if note is not None:  # a read-only or full disk: the check ran, its record did not
                unrecorded.append(note)
            how = "remembered" if canary is not None and canary.remembered else "re-embedded"
    return CheckReport(
        name,
        handle.version,
        column.name,
        column.ref.pin,
        tuple(problems),
        (*_notes(ws, name, handle.version), *unrecorded),
        how,
    )


def _recalled(column: VectorColumn) -> CanaryResult | None:
    """The remembered passing check of the column's local model (never for a served model)."""
    if not column.canaries:
        return None
    return recalled_check(column.ref, CanaryPin.from_json(column.canaries))


def check_tables(
    ws: Workspace, tables: Sequence[str] | None = None, *, embedder: Embedder | None = None
) -> list[CheckReport]:
    """:func:`check` for each of ``tables`` (default: every corpus table), in order.

    A deploy check covers the whole workspace; naming tables narrows it.

    Raises:
        NotFoundError: a named table does not exist (checked before anything else runs).
    """
    names = list(tables) if tables else ws.table_names()
    for name in names:
        ws.table(name)
    return [check(ws, name, embedder=embedder) for name in names]


def check_query(query: str, k: int) -> None:
    """Refuse an empty query or a non-positive ``k``."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidArgumentError(f"the query is empty ({query!r}); give the text to search for")
    k = positive_int(k)


def resolve_production(ws: Workspace, name: str) -> tuple[Table, VectorColumn]:
    """A handle on the ``production`` version of ``name`` and the active column it names.

    Production is read through :func:`workbench.store.production.production`, the same lookup
    ``status`` and the app use.

    Raises:
        LifecycleError: the table has no production tag.
        CorruptStateError: the tagged version is unreadable or names no column it has.
    """
    table = ws.table(name)
    current = production(table)
    if current is None:
        raise LifecycleError(
            f"table {name!r} has no {PRODUCTION_TAG!r} tag: nothing is in production yet. Record what "
            f"search serves today, usually the old model: `workbench promote OLD_COLUMN --initial -t {name}`."
        )
    handle = ws.table(name)
    try:
        handle.checkout(current.version)
        columns = {c.name: c for c in ws.vector_columns(handle)}
    except (OSError, RuntimeError, ValueError) as exc:
        raise CorruptStateError(
            f"production v{current.version} of {name!r} cannot be opened ({str(exc).splitlines()[0][:200]}); "
            "its files were deleted or damaged outside the workbench. Restore them from a backup."
        ) from exc
    if current.column not in columns:
        raise CorruptStateError(
            f"production v{current.version} of {name!r} names active column {current.column!r}, which is "
            f"not a vector column of that version ({', '.join(columns) or 'none'}); re-promote a column"
        )
    return handle, columns[current.column]


def verify_column(table: Table, column: VectorColumn) -> None:
    """Refuse a column with missing or stale rows at the handle's version.

    Reads only the scalar ``src__`` and ``content_hash`` columns, never the vectors: the
    workbench writes a vector and the hash it was computed from together, so a row without a
    vector has no source hash either (about 0.1 s at 1M rows instead of seconds and a GB).
    """
    missing, stale = column_problems(table, column, read_vectors=False)
    if missing or stale:
        raise StaleColumnError(
            f"production v{table.version} of {table.name!r}: {column.name} has {missing} rows without a "
            f"vector and {stale} vectors of outdated text; searching it would mix versions. Re-ingest "
            "(dual-write) the changed documents, then `workbench refresh` or promote again."
        )


def verified_embedder(column: VectorColumn, embedder: Embedder | None = None) -> Embedder:
    """The column's own pinned model (the given one if it is that pin), probed once.

    Raises:
        MixedIndexError: the model's fingerprint differs from the column's pin (files changed
            under the same name, or another model was given).
    """
    try:
        model = embedder_for(column, {column.name: embedder} if embedder is not None else None)
    except CanaryMismatchError:
        raise  # the served/loaded model changed behaviour: say so as it is
    except FingerprintMismatchError as exc:
        raise MixedIndexError(
            f"refusing to serve {column.name}: the model on this machine is not the one that wrote "
            f"the column. {exc}"
        ) from exc
    encode_queries(model, column, [_PROBE])
    return model


def _notes(ws: Workspace, name: str, version: int) -> list[str]:
    notes = unfinished(ws.table(name))
    latest = ws.table(name).to_lance()
    if not data_unchanged_since(latest, version):
        notes.append(
            f"production is v{version}, the latest version is v{latest.version} with other documents: "
            "they are not served until `workbench refresh`"
        )
    moves = [e for e in history(ws, name) if e.action in MOVES and e.to_version is not None]
    if moves and moves[-1].to_version != version:
        notes.append(
            f"the history's last production move is to v{moves[-1].to_version}, but the tag is at "
            f"v{version}: the tag was moved outside the workbench, or a promotion was interrupted"
        )
    if not moves:
        notes.append("no promotion is recorded in the history for this table")
    return notes
