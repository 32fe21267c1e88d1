"""A LangChain retriever over the production column, following promotions and rollbacks.

:class:`ProductionRetriever` is a ``langchain_core`` retriever: use it wherever LangChain takes
one (``retriever.invoke(query)``, a chain, an agent tool). Each document's ``page_content`` is
the text; its metadata holds the title, the cosine score and rank, and which production
version, column, pinned model and index answered (:func:`~workbench.integrations.follower.hit_metadata`).

Example:
    >>> from workbench.integrations.langchain import ProductionRetriever  # doctest: +SKIP
    >>> retriever = ProductionRetriever(workspace="workspace", table="demo", k=5)  # doctest: +SKIP
    >>> retriever.invoke("how do I roll back a model?")[0].metadata["column"]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.integrations import missing_extra

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:
    raise missing_extra("workbench.integrations.langchain", "langchain-core") from exc
from pydantic import PrivateAttr

from workbench.checks import positive_int
from workbench.integrations.follower import DEFAULT_FOLLOW_INTERVAL, ProductionFollower, hit_metadata
from workbench.store.query_log import QueryLog
from workbench.store.workspace import Workspace

if TYPE_CHECKING:
    from workbench.models.embedder import Embedder

__all__ = ["ProductionRetriever"]


class ProductionRetriever(BaseRetriever):
    """The ``k`` nearest documents from production, encoded by the production column's own pin.

    Before a retrieval the ``production`` tag is re-checked at most every ``follow_interval``
    seconds, so a ``workbench promote`` or ``rollback`` is followed without a restart; a new
    production that fails validation is not served (the last good one answers; see
    :mod:`workbench.integrations.follower`). Built before the first promotion, it raises
    :class:`~workbench.errors.LifecycleError` on each retrieval until there is one.

    Attributes:
        workspace: The workspace, or its folder or URI.
        table: The corpus table (default: the workspace's only one).
        k: Documents per query.
        follow_interval: Seconds between two checks of the tag; 0 checks before every query.
        query_log: Where answered queries are logged (sampled), for monitoring.
        embedders: Already-loaded models by column name (else each pin is loaded once).
        clock: Monotonic seconds (injectable for tests).

    Raises:
        InvalidArgumentError: ``k`` < 1 or a negative ``follow_interval``.
        NotFoundError, MixedIndexError, StaleColumnError: see
            :class:`~workbench.integrations.follower.ProductionFollower`.
    """

    workspace: Workspace | str | Path
    table: str | None = None
    k: int = 10
    follow_interval: float = DEFAULT_FOLLOW_INTERVAL
    query_log: QueryLog | None = None
    embedders: Mapping[str, Any] | None = None  # Embedder is a Protocol pydantic cannot check
    clock: Callable[[], float] = time.monotonic
    _production: ProductionFollower = PrivateAttr()

    def __init__(
        self,
        workspace: Workspace | str | Path,
        table: str | None = None,
        *,
        k: int = 10,
        follow_interval: float = DEFAULT_FOLLOW_INTERVAL,
        query_log: QueryLog | None = None,
        embedders: Mapping[str, Embedder] | None = None,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        # Validated and opened before pydantic runs, so a refusal is the workbench's one-line
        # error rather than a ValidationError wrapping it.
        k = positive_int(k)
        production = ProductionFollower(
            workspace,
            table,
            follow_interval=follow_interval,
            query_log=query_log,
            embedders=embedders,
            clock=clock,
        )
        fields: dict[str, Any] = {  # pydantic's own __init__ sets (and checks the types of) the fields
            "workspace": workspace,
            "table": production.table,
            "k": k,
            "follow_interval": production.follow_interval,
            "query_log": query_log,
            "embedders": embedders,
            "clock": clock,
        }
        super().__init__(**fields, **kwargs)
        self._production = production

    @property
    def production(self) -> ProductionFollower:
        """The followed production index (``.index``, ``.problem``)."""
        return self._production

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = self._production.search(query, k=self.k)
        return [
            Document(page_content=hit.text, metadata=hit_metadata(result, hit), id=hit.id)
            for hit in result.hits
        ]
