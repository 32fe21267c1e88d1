"""Serving through an adapter: new-model queries against the old production column.

A mode of the production index for the time between "the new model is chosen" and "its column
is promoted" (or for after the old model can no longer embed queries). :meth:`AdaptedIndex.open`
resolves ``production`` and refuses unless its active column is the adapter's target column with
exactly the adapter's target pin, and the query model is exactly its source pin.
"""

from __future__ import annotations

import logging

from workbench.adapters.artifact import Adapter, load_adapter
from workbench.adapters.binding import require_pin, require_source_embedder
from workbench.errors import MixedIndexError
from workbench.lifecycle.serve import Hit, SearchResult, check_query, resolve_production, verify_column
from workbench.models.ref import Embedder, load_embedder
from workbench.store.workspace import VectorColumn, Workspace

__all__ = ["AdaptedIndex"]

log = logging.getLogger(__name__)


class AdaptedIndex:
    """The production version of a table, searched with new-model queries mapped by an adapter."""

    def __init__(self, adapter: Adapter, table: object, column: VectorColumn, embedder: Embedder) -> None:
        self.adapter = adapter
        self.table = table
        self.column = column
        self.embedder = embedder

    @classmethod
    def open(cls, ws: Workspace, adapter: str | Adapter, *, embedder: Embedder | None = None) -> AdaptedIndex:
        """Validate the adapter against production and the query model, then return the index.

        Raises:
            LifecycleError: the adapter's table has nothing in production.
            MixedIndexError: production serves another column or pin than the adapter's target,
                or the query model is not the adapter's source pin.
            StaleColumnError: the production column has missing or stale rows.
        """
        fitted = adapter if isinstance(adapter, Adapter) else load_adapter(ws, adapter)
        handle, column = resolve_production(ws, fitted.table)
        if column.name != fitted.target_column:
            raise MixedIndexError(
                f"production of {fitted.table!r} serves {column.name}, but adapter {fitted.id} maps into "
                f"{fitted.target_column}; serve with an adapter fitted for the production column"
            )
        require_pin(column.ref, fitted.target_pin, role="target", adapter_id=fitted.id)
        verify_column(handle, column)
        model = embedder if embedder is not None else load_embedder(fitted.source_pin)
        require_source_embedder(model, fitted)
        return cls(fitted, handle, column, model)

    @property
    def version(self) -> int:
        return int(self.table.version)  # type: ignore[attr-defined]

    def search(self, query: str, *, k: int = 10) -> SearchResult:
        """The ``k`` nearest documents of the production column to the mapped new-model query."""
        check_query(query, k)
        source = self.adapter.source_pin
        raw = self.embedder.encode_queries([query])
        if raw.shape[1] != source.dim:
            raise MixedIndexError(
                f"query model returned {raw.shape[1]}-d vectors, adapter expects {source.dim}"
            )
        vector = self.adapter.map.apply(raw)[0]
        rows = (
            self.table.search(vector, vector_column_name=self.column.name)  # type: ignore[attr-defined]
            .distance_type("cosine")
            .select(["id", "title", "text", "_distance"])
            .limit(k)
            .to_list()
        )
        hits = tuple(
            Hit(rank, row["id"], row["title"] or "", row["text"] or "", 1.0 - float(row["_distance"]))
            for rank, row in enumerate(rows, start=1)
        )
        model = f"{source.pin} via adapter {self.adapter.id}"
        return SearchResult(query, self.adapter.table, self.version, self.column.name, model, hits)
