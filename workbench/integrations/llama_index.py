"""A LlamaIndex retriever over the production column, following promotions and rollbacks.

:class:`ProductionRetriever` is a ``llama_index.core`` retriever: ``retriever.retrieve(query)``
or a query engine (``RetrieverQueryEngine.from_args(retriever, llm=…)``). Each node's text is
the document's text, its ``id_`` the document id, its score the cosine similarity; its metadata
holds the title and which production version, column, pinned model and index answered
(:func:`~workbench.integrations.follower.hit_metadata`). Only the title is shown to the LLM and
to embedders; the provenance keys are excluded from both.

Example:
    >>> from workbench.integrations.llama_index import ProductionRetriever  # doctest: +SKIP
    >>> retriever = ProductionRetriever("workspace", "demo", k=5)  # doctest: +SKIP
    >>> retriever.retrieve("how do I roll back a model?")[0].metadata["column"]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.integrations import missing_extra

try:
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError as exc:
    raise missing_extra("workbench.integrations.llama_index", "llama-index-core") from exc

from workbench.checks import positive_int
from workbench.integrations.follower import DEFAULT_FOLLOW_INTERVAL, ProductionFollower, hit_metadata

if TYPE_CHECKING:
    from workbench.models.embedder import Embedder
    from workbench.store.query_log import QueryLog
    from workbench.store.workspace import Workspace

__all__ = ["ProductionRetriever"]

#: Metadata shown to the LLM and to embedders; the rest is provenance for the application.
_SHOWN = frozenset({"title"})


class ProductionRetriever(BaseRetriever):
    """The ``k`` nearest documents from production, encoded by the production column's own pin.

    Before a retrieval the ``production`` tag is re-checked at most every ``follow_interval``
    seconds, so a ``workbench promote`` or ``rollback`` is followed without a restart; a new
    production that fails validation is not served (the last good one answers; see
    :mod:`workbench.integrations.follower`). Built before the first promotion, it raises
    :class:`~workbench.errors.LifecycleError` on each retrieval until there is one. A
    ``QueryBundle``'s own embedding is ignored: only the column's pin may encode its queries.

    Args:
        workspace: The workspace, or its folder or URI.
        table: The corpus table (default: the workspace's only one).
        k: Documents per query.
        follow_interval: Seconds between two checks of the tag; 0 checks before every query.
        query_log: Where answered queries are logged (sampled), for monitoring.
        embedders: Already-loaded models by column name (else each pin is loaded once).
        clock: Monotonic seconds (injectable for tests).
        callback_manager: LlamaIndex callbacks.

    Raises:
        InvalidArgumentError: ``k`` < 1 or a negative ``follow_interval``.
        NotFoundError, MixedIndexError, StaleColumnError: see
            :class:`~workbench.integrations.follower.ProductionFollower`.
    """

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
        callback_manager: CallbackManager | None = None,
    ) -> None:
        self.k = positive_int(k)
        self.production = ProductionFollower(
            workspace,
            table,
            follow_interval=follow_interval,
            query_log=query_log,
            embedders=embedders,
            clock=clock,
        )
        """The followed production index (``.index``, ``.problem``)."""
        super().__init__(callback_manager=callback_manager)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self.production.search(query_bundle.query_str, k=self.k)
        nodes = []
        for hit in result.hits:
            metadata: dict[str, Any] = hit_metadata(result, hit)
            hidden = [key for key in metadata if key not in _SHOWN]
            node = TextNode(
                id_=hit.id,
                text=hit.text,
                metadata=metadata,
                excluded_llm_metadata_keys=hidden,
                excluded_embed_metadata_keys=hidden,
            )
            nodes.append(NodeWithScore(node=node, score=hit.score))
        return nodes
