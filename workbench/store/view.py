"""Reading a table without a LanceDB connection: the read side of a table, over pylance alone.

``import lancedb`` costs more than a second (its generated REST client is most of it), while
``workbench status``, the app's Workspace page and ``ProductionIndex.open``-style validation only
read metadata: the schema and its field metadata (pins, index records), tags, versions, index
descriptions and row counts. :class:`TableView` answers exactly those over a
:class:`lance.LanceDataset`, with the same member names as a LanceDB table, so the read functions
of the store (:func:`~workbench.store.status.table_status`,
:func:`~workbench.store.production.production`, :func:`~workbench.store.index.describe_indexes`,
:func:`~workbench.store.workspace.vector_columns`) take either. :class:`ReadableTable` is that
shared shape, for type checking.

Example:
    >>> status = table_status(ws.view("demo"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa
    from lance import LanceDataset

__all__ = ["ReadableTable", "TableView"]


class ReadableTable(Protocol):
    """What the store's read functions need of a table: a LanceDB table or a :class:`TableView`."""

    @property
    def name(self) -> str: ...

    @property
    def schema(self) -> pa.Schema: ...

    @property
    def version(self) -> int: ...

    @property
    def tags(self) -> Any: ...

    def to_lance(self) -> LanceDataset: ...

    def count_rows(self, filter: str | None = None) -> int: ...

    def list_versions(self) -> list[dict[str, Any]]: ...


class TableView:
    """One table at one version, read through pylance (no LanceDB import, no connection).

    Build it with :meth:`Workspace.view <workbench.store.workspace.Workspace.view>`. Read-only:
    writes (embed, promote, index builds) open the table through LanceDB.
    """

    def __init__(self, name: str, dataset: LanceDataset) -> None:
        self._name = name
        self._dataset = dataset

    def __repr__(self) -> str:
        return f"TableView({self._name!r}, version={self.version})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def schema(self) -> pa.Schema:
        return self._dataset.schema

    @property
    def version(self) -> int:
        return int(self._dataset.version)

    @property
    def tags(self) -> Any:
        """The dataset's tags; ``tags.list()`` maps each name to a dict with its ``version``."""
        return self._dataset.tags

    def to_lance(self) -> LanceDataset:
        return self._dataset

    def count_rows(self, filter: str | None = None) -> int:
        return int(self._dataset.count_rows(filter=filter))

    def list_versions(self) -> list[dict[str, Any]]:
        return [dict(v) for v in self._dataset.versions()]
