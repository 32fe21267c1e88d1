"""Both framework retrievers behind one small interface, so shared behaviour is tested once for each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Retrieved:
    """One retrieved document as either framework returns it."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any]


class Framework:
    """Builds a framework's ``ProductionRetriever`` and runs a query through the framework's own API."""

    def __init__(self, name: str) -> None:
        self.name = name

    def make(self, workspace: Any, table: str | None = None, **options: Any) -> Any:
        if self.name == "langchain":
            from workbench.integrations.langchain import ProductionRetriever

            return ProductionRetriever(workspace=workspace, table=table, **options)
        from workbench.integrations.llama_index import ProductionRetriever as LlamaRetriever

        return LlamaRetriever(workspace, table, **options)

    def retrieve(self, retriever: Any, query: str) -> list[Retrieved]:
        if self.name == "langchain":
            docs = retriever.invoke(query)
            return [Retrieved(d.id, d.metadata["score"], d.page_content, d.metadata) for d in docs]
        found = retriever.retrieve(query)
        return [Retrieved(n.node.node_id, n.score, n.node.text, n.node.metadata) for n in found]


@pytest.fixture(params=["langchain", "llama_index"])
def framework(request: pytest.FixtureRequest) -> Framework:
    return Framework(request.param)
