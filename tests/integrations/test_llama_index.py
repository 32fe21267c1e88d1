"""The LlamaIndex retriever: LlamaIndex's own types and entry points, and the missing-extra error."""

from __future__ import annotations

import asyncio
import importlib
import sys

import pytest
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from workbench.integrations.llama_index import ProductionRetriever
from workbench.store.workspace import Workspace

QUERY = "how do I undo a bad model release?"


def test_nodes_carry_the_text_and_show_only_the_title_to_the_llm(demo_ws: Workspace, embedders) -> None:
    retriever = ProductionRetriever(demo_ws, "demo", k=3, embedders=embedders)
    assert isinstance(retriever, BaseRetriever)
    found = retriever.retrieve(QUERY)
    assert [(type(n), type(n.node)) for n in found] == [(NodeWithScore, TextNode)] * 3
    hit = retriever.production.search(QUERY, k=3).hits[0]
    node = found[0].node
    assert (node.node_id, node.text, found[0].score) == (hit.id, hit.text, hit.score)
    shown = f"title: {hit.title}\n\n{hit.text}"
    assert node.get_content(metadata_mode=MetadataMode.LLM) == shown
    assert node.get_content(metadata_mode=MetadataMode.EMBED) == shown


def test_a_query_bundle_and_the_async_entry_point_answer_the_same(demo_ws: Workspace, embedders) -> None:
    retriever = ProductionRetriever(demo_ws, "demo", k=3, embedders=embedders)
    sync = [(n.node.node_id, n.score) for n in retriever.retrieve(QUERY)]
    # a bundle's own embedding is ignored: only the column's pin encodes its queries
    bundle = QueryBundle(QUERY, embedding=[1.0] * 8)
    assert [(n.node.node_id, n.score) for n in retriever.retrieve(bundle)] == sync
    assert [(n.node.node_id, n.score) for n in asyncio.run(retriever.aretrieve(QUERY))] == sync


def test_without_the_extra_the_import_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_index.core.retrievers", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "workbench.integrations.llama_index")
    with pytest.raises(ImportError) as raised:
        importlib.import_module("workbench.integrations.llama_index")
    assert str(raised.value) == (
        "workbench.integrations.llama_index needs llama-index-core, which is not installed: "
        'pip install "embedding-workbench[integrations]"'
    )
