"""An adapter is bound to both pins: any change of either model or column is refused.

The source pin is the model that encodes queries, the target pin the model that wrote the
searched column. A re-pinned alias (new weights under the same name) gives another fingerprint
and another column, so a bridge fitted for the old pair can never silently serve the new one.

Serving through an adapter is a mode of the production index
(``ProductionIndex.open(ws, table, adapter=ID)``): the checks it runs before the first query
live here, the search itself is the production index's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import MixedIndexError
from workbench.models.embedder import Embedder
from workbench.models.loading import load_embedder
from workbench.models.ref import ModelRef
from workbench.store.workspace import VectorColumn, Workspace, vector_columns

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.decide.adapters.artifact import Adapter

__all__ = [
    "adapted_queries",
    "bound_columns",
    "require_pin",
    "require_source_embedder",
    "require_target_column",
    "resolve_adapter",
    "source_embedder",
]


def require_pin(ref: ModelRef, pinned: ModelRef, *, role: str, adapter_id: str) -> None:
    """Refuse ``ref`` unless it is the pin the adapter was fitted for (wherever it is served now)."""
    if not ref.same_model(pinned):
        raise MixedIndexError(
            f"adapter {adapter_id} was fitted for {role} model {pinned.pin}, but {ref.pin} was given: "
            "an adapter is bound to both pins. Fit a new adapter for the new pair "
            "(`workbench adapter fit`)"
        )


def bound_columns(table: Table, adapter: Adapter) -> tuple[VectorColumn, VectorColumn]:
    """The adapter's (source, target) columns in ``table``, refusing any whose pin changed.

    Raises:
        MixedIndexError: a column is missing, or its pin differs from the adapter's.
    """
    columns = {c.name: c for c in vector_columns(table)}
    found = []
    for role, name, pinned in (
        ("source", adapter.source_column, adapter.source_pin),
        ("target", adapter.target_column, adapter.target_pin),
    ):
        if name not in columns:
            raise MixedIndexError(
                f"adapter {adapter.id} needs {role} column {name} in table {table.name!r}, which is gone "
                f"(columns: {', '.join(columns) or 'none'}); fit a new adapter for the columns there are"
            )
        require_pin(columns[name].ref, pinned, role=role, adapter_id=adapter.id)
        found.append(columns[name])
    return found[0], found[1]


def require_source_embedder(embedder: Embedder, adapter: Adapter) -> None:
    """Refuse a query model that is not the adapter's source pin."""
    require_pin(embedder.ref, adapter.source_pin, role="source (query)", adapter_id=adapter.id)


def resolve_adapter(ws: Workspace, adapter: str | Adapter, table: str | None = None) -> Adapter:
    """The stored adapter (by id) or the given one, refusing one fitted for another table.

    Raises:
        NotFoundError, CorruptStateError: see :func:`~workbench.decide.adapters.artifact.load_adapter`.
        MixedIndexError: ``table`` is given and is not the adapter's table.
    """
    from workbench.decide.adapters.artifact import Adapter, load_adapter

    fitted = adapter if isinstance(adapter, Adapter) else load_adapter(ws, adapter)
    if table is not None and table != fitted.table:
        raise MixedIndexError(
            f"adapter {fitted.id} was fitted on table {fitted.table!r}, not {table!r}; "
            f"search {fitted.table!r} or fit an adapter on {table!r}"
        )
    return fitted


def require_target_column(column: VectorColumn, adapter: Adapter, *, where: str) -> None:
    """Refuse a production column that is not the adapter's target column with its target pin.

    Raises:
        MixedIndexError: ``where`` serves another column, or the column's pin changed.
    """
    if column.name != adapter.target_column:
        raise MixedIndexError(
            f"{where} serves {column.name}, but adapter {adapter.id} maps into "
            f"{adapter.target_column}; serve with an adapter fitted for the production column"
        )
    require_pin(column.ref, adapter.target_pin, role="target", adapter_id=adapter.id)


def source_embedder(adapter: Adapter, embedder: Embedder | None = None) -> Embedder:
    """The query model: the given one (which must be the source pin) or the source pin loaded."""
    model = embedder if embedder is not None else load_embedder(adapter.source_pin)
    require_source_embedder(model, adapter)
    return model


def adapted_queries(adapter: Adapter, embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Encode ``texts`` with the source model and map them into the target space (float32).

    Raises:
        MixedIndexError: the query model returned vectors of another dimension than its pin's.
    """
    raw = embedder.encode_queries(list(texts))
    if raw.ndim != 2 or raw.shape[1] != adapter.source_pin.dim:
        raise MixedIndexError(
            f"query model {embedder.ref.pin} returned vectors of shape {raw.shape}; adapter "
            f"{adapter.id} expects {adapter.source_pin.dim}-d inputs"
        )
    return np.ascontiguousarray(adapter.map.apply(raw), dtype=np.float32)
