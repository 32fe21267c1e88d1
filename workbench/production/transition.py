"""Transition search: serving while a progressive column fills, from both models at once.

A :class:`TransitionIndex` holds one table version with two columns: the old one (by default
the column production serves) and the new, progressive one. Each query is encoded by **both**
pinned models; the new column is searched with the new model only over the rows it covers (a
filter on its ``src__`` column: a vector of the row's current text), the old column with the
old model over the rows not covered (``old_scope="uncovered"``, the default) or over all rows
(``"all"``), each through its own ANN index when it has one; the two lists are merged by
reciprocal rank fusion or by per-model score calibration
(:func:`workbench.retrieval.fusion.fuse`). A document appears once, and every hit names the
column and model that ranked it. No cosine of one space is ever compared with one of the other.

At 0 % coverage it answers exactly as the old column does, at 100 % exactly as the new column
does (with ``old_scope="uncovered"``).

Example:
    >>> index = TransitionIndex.open(ws, "demo", "minilm-l6")  # doctest: +SKIP
    >>> [(h.id, h.column) for h in index.search("rollback", k=3).hits]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from workbench.errors import InvalidArgumentError, LifecycleError, StaleColumnError
from workbench.production.serving import check_query, verified_embedder
from workbench.retrieval.encode import encode_queries
from workbench.retrieval.fusion import (
    CALIBRATION_DEPTH,
    NEW,
    Calibration,
    calibration_probes,
    check_merge,
    fuse,
)
from workbench.store.index import IndexInfo, describe_indexes, search_query
from workbench.store.production import production
from workbench.store.progressive import Coverage, uncovered_filter
from workbench.store.status import column_problems
from workbench.store.workspace import VectorColumn, Workspace

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.models.embedder import Embedder

__all__ = [
    "OLD_SCOPES",
    "OldScope",
    "TransitionHit",
    "TransitionIndex",
    "TransitionResult",
    "new_rows_filter",
    "old_rows_filter",
]

log = logging.getLogger(__name__)

OldScope = Literal["uncovered", "all"]
OLD_SCOPES: tuple[str, ...] = ("uncovered", "all")


def new_rows_filter(column: VectorColumn) -> str:
    """Rows the new column answers for: a vector of the row's current text."""
    return f"{column.src_column} = content_hash"


def old_rows_filter(column: VectorColumn) -> str:
    """Rows the new column does not cover yet (no vector, or one of older text)."""
    return f"{column.src_column} IS NULL OR {column.src_column} != content_hash"


@dataclass(frozen=True)
class TransitionHit:
    """One merged result and the model that ranked it.

    ``score`` is the merged score (RRF sum, or calibrated quantile in [0, 1]); ``cosine`` the
    similarity in the ranking model's own space (comparable only with hits of that column).
    """

    rank: int
    id: str
    title: str
    text: str
    score: float
    column: str
    model: str
    cosine: float


@dataclass(frozen=True)
class TransitionResult:
    """The hits of one query and exactly what produced them (both columns, the merge, coverage)."""

    query: str
    table: str
    version: int
    column: str
    """The new (progressive) column."""
    old_column: str
    model: str
    """Both pins: ``<new pin> + <old pin>``."""
    hits: tuple[TransitionHit, ...]
    merge: str
    old_scope: str
    coverage: float
    index: str = "exact"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def new_share(self) -> float:
        """Share of the hits ranked by the new model."""
        return sum(h.column == self.column for h in self.hits) / len(self.hits) if self.hits else 0.0


class TransitionIndex:
    """A transition-mode serving handle: one version, two validated columns (see the module docstring).

    Build it with :meth:`open`.
    """

    def __init__(
        self,
        ws: Workspace,
        table: Table,
        old: VectorColumn,
        new: VectorColumn,
        embedders: Mapping[str, Embedder],
        *,
        merge: str,
        old_scope: str,
        coverage: Coverage,
        calibration: Calibration,
    ) -> None:
        self.ws = ws
        self.table = table
        self.old = old
        self.new = new
        self.embedders = dict(embedders)
        self.merge = merge
        self.old_scope = old_scope
        self.coverage = coverage
        self.calibration = calibration
        """The reference score samples of both models (used by ``merge="calibrated"``)."""
        indexes = describe_indexes(table)
        self.indexes: dict[str, IndexInfo | None] = {c.name: indexes.get(c.name) for c in (old, new)}
        _, stale = column_problems(table, new, read_vectors=False)
        # A vector search skips null vectors by itself; the filter (1.5-3x slower) is needed
        # only to leave out vectors of outdated text, and for the old column's uncovered rows.
        self.new_filter = new_rows_filter(new) if stale else None
        self.old_filter = (
            (old_rows_filter(new) if stale else uncovered_filter(new)) if old_scope == "uncovered" else None
        )

    def __repr__(self) -> str:
        return (
            f"TransitionIndex({self.table.name!r}, v{self.version}, {self.new.name} over {self.old.name}, "
            f"{self.merge}, {100 * self.coverage.share:.1f}% covered)"
        )

    @property
    def version(self) -> int:
        return self.table.version

    @classmethod
    def open(
        cls,
        ws: Workspace,
        table: str | None,
        new_column: str,
        *,
        old_column: str | None = None,
        merge: str = "rrf",
        old_scope: str = "uncovered",
        version: int | None = None,
        embedders: Mapping[str, Embedder] | None = None,
    ) -> TransitionIndex:
        """Open ``new_column`` (name or alias) beside ``old_column`` at the latest (or given) version.

        Args:
            ws: The workspace.
            table: The corpus table (default: the only one).
            new_column: The new column, usually progressive (a whole one is accepted too).
            old_column: The old column (default: the column production serves).
            merge: ``"rrf"`` or ``"calibrated"``.
            old_scope: Search the old column over the rows the new one does not cover
                (``"uncovered"``) or over all rows (``"all"``).
            version: The table version to hold (default: the latest).
            embedders: Already-loaded models by column name (each verified against its pin).

        Raises:
            InvalidArgumentError: an unknown merge or scope, or the same column twice.
            LifecycleError: no ``old_column`` and no production; the old column is progressive.
            StaleColumnError: the old column has missing or stale rows at that version.
            MixedIndexError: a model is not its column's pin.
        """
        check_merge(merge)
        if old_scope not in OLD_SCOPES:
            raise InvalidArgumentError(f"unknown old scope {old_scope!r}; scopes: {', '.join(OLD_SCOPES)}")
        name = table or ws.default_table()
        handle = ws.table(name)
        handle.checkout(version if version is not None else handle.version)
        new = ws.resolve_column(handle, new_column)
        old = ws.resolve_column(handle, old_column or _production_column(handle))
        if old.name == new.name:
            raise InvalidArgumentError(f"the new and the old column are both {new.name}; name two columns")
        _require_whole(handle, old)
        models = {c.name: verified_embedder(c, (embedders or {}).get(c.name)) for c in (old, new)}
        covered = _coverage(handle, new)
        calibration = _calibration(handle, new, old) if merge == "calibrated" else _EMPTY
        return cls(
            ws,
            handle,
            old,
            new,
            models,
            merge=merge,
            old_scope=old_scope,
            coverage=covered,
            calibration=calibration,
        )

    def search(self, query: str, *, k: int = 10) -> TransitionResult:
        """The ``k`` best documents for ``query``, merged from both columns.

        Raises:
            InvalidArgumentError: an empty query or ``k`` < 1.
        """
        check_query(query, k)
        new_rows = self._search(self.new, query, self.new_filter, k)
        old_rows = self._search(self.old, query, self.old_filter, k)
        fused = fuse(
            [r["id"] for r in new_rows],
            [r["score"] for r in new_rows],
            [r["id"] for r in old_rows],
            [r["score"] for r in old_rows],
            k=k,
            merge=self.merge,
            calibration=self.calibration,
        )
        rows = {r["id"]: r for r in (*old_rows, *new_rows)}
        hits = tuple(
            TransitionHit(
                rank,
                f.id,
                rows[f.id]["title"] or "",
                rows[f.id]["text"] or "",
                f.score,
                self.new.name if f.source == NEW else self.old.name,
                self.new.ref.pin if f.source == NEW else self.old.ref.pin,
                f.cosine,
            )
            for rank, f in enumerate(fused, start=1)
        )
        return TransitionResult(
            query,
            self.table.name,
            self.version,
            self.new.name,
            self.old.name,
            f"{self.new.ref.pin} + {self.old.ref.pin}",
            hits,
            self.merge,
            self.old_scope,
            self.coverage.share,
            self.searched_with,
        )

    @property
    def searched_with(self) -> str:
        """How each column is searched: ``new: exact; old: IVF_PQ nprobes=…``."""
        parts = []
        for label, column in (("new", self.new), ("old", self.old)):
            info = self.indexes[column.name]
            parts.append(f"{label}: {'exact' if info is None else info.describe()}")
        return "; ".join(parts)

    def _search(self, column: VectorColumn, query: str, where: str | None, k: int) -> list[dict[str, Any]]:
        vector = encode_queries(self.embedders[column.name], column, [query])[0]
        info = self.indexes[column.name]
        found = self.table.search(vector, vector_column_name=column.name).distance_type("cosine")  # type: ignore[attr-defined]
        if where is not None:
            found = found.where(where, prefilter=True)
        rows = search_query(found, info.spec if info else None, k=k).select(
            ["id", "title", "text", "_distance"]
        )
        return [{**row, "score": 1.0 - float(row["_distance"])} for row in rows.to_list()]


_EMPTY = Calibration(np.empty(0), np.empty(0))


def _production_column(table: Table) -> str:
    current = production(table)
    if current is None or current.column is None:
        raise LifecycleError(
            f"table {table.name!r} has no production column to transition from; name the old column "
            "(old_column= / --old-column)"
        )
    return current.column


def _require_whole(table: Table, column: VectorColumn) -> None:
    if column.is_progressive:
        raise LifecycleError(
            f"the old column {column.name} is itself progressive; the old column must be whole"
        )
    missing, stale = column_problems(table, column, read_vectors=False)
    if missing or stale:
        raise StaleColumnError(
            f"v{table.version} of {table.name!r}: the old column {column.name} has {missing} rows without a "
            f"vector and {stale} stale rows; re-ingest (dual-write) the changed documents first"
        )


def _coverage(table: Table, new: VectorColumn) -> Coverage:
    dataset = table.to_lance()
    total = dataset.count_rows()
    return Coverage(new.name, dataset.count_rows(filter=new_rows_filter(new)), total, new.is_progressive)


def _calibration(table: Table, new: VectorColumn, old: VectorColumn) -> Calibration:
    """Both models' neighbour similarities of the same probe rows over the same covered rows.

    The probes are covered rows (:func:`~workbench.retrieval.fusion.calibration_probes`); each
    searches with its own stored vector, so no query text is needed, and the probe itself (rank
    1) is left out.
    """
    dataset = table.to_lance()
    covered = new_rows_filter(new)
    ids = dataset.to_table(columns=["id"], filter=covered).column("id").to_pylist()
    probes = calibration_probes(ids)
    if not probes:
        return _EMPTY
    quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in probes)
    rows = dataset.to_table(columns=["id", new.name, old.name], filter=f"id IN ({quoted})")
    samples = []
    for column in (new, old):
        vectors = np.asarray(rows.column(column.name).to_pylist(), dtype=np.float32)
        found = (
            table.search(vectors, vector_column_name=column.name)
            .distance_type("cosine")  # type: ignore[attr-defined]
            .where(covered, prefilter=True)
            .limit(CALIBRATION_DEPTH + 1)
            .select(["id", "_distance"])
            .to_arrow()
        )
        query_index = found.column("query_index").to_numpy()
        ranks = np.zeros(len(query_index), dtype=int)
        for position in range(1, len(query_index)):
            same = query_index[position] == query_index[position - 1]
            ranks[position] = ranks[position - 1] + 1 if same else 0
        scores = 1.0 - found.column("_distance").to_numpy()
        samples.append(scores[ranks > 0])
    return Calibration.from_neighbours(samples[0], samples[1])
