"""An adapter is bound to both pins: any change of either model or column is refused.

The source pin is the model that encodes queries, the target pin the model that wrote the
searched column. A re-pinned alias (new weights under the same name) gives another fingerprint
and another column, so a bridge fitted for the old pair can never silently serve the new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.errors import MixedIndexError
from workbench.models.ref import Embedder, ModelRef
from workbench.store.workspace import VectorColumn, vector_columns

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.adapters.artifact import Adapter

__all__ = ["bound_columns", "require_pin", "require_source_embedder"]


def require_pin(ref: ModelRef, pinned: ModelRef, *, role: str, adapter_id: str) -> None:
    """Refuse ``ref`` unless it is exactly the pin the adapter was fitted for."""
    if ref != pinned:
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
