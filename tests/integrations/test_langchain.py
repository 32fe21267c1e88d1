"""The LangChain retriever: LangChain's own types and entry points, and the missing-extra error."""

from __future__ import annotations

import asyncio
import importlib
import sys

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from workbench.demo import OLD_MODEL
from workbench.integrations.langchain import ProductionRetriever
from workbench.models.catalog import CATALOG
from workbench.store.workspace import Workspace

QUERY = "how do I undo a bad model release?"


def test_documents_carry_the_text_and_the_title(demo_ws: Workspace, embedders) -> None:
    retriever = ProductionRetriever(workspace=demo_ws, table="demo", k=3, embedders=embedders)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke(QUERY)
    assert [type(d) for d in docs] == [Document] * 3
    hit = retriever.production.search(QUERY, k=3).hits[0]
    assert (docs[0].id, docs[0].page_content, docs[0].metadata["title"]) == (hit.id, hit.text, hit.title)
    assert docs[0].metadata["column"] == CATALOG[OLD_MODEL].column


def test_async_and_batch_entry_points_answer_the_same(demo_ws: Workspace, embedders) -> None:
    retriever = ProductionRetriever(demo_ws, "demo", k=3, embedders=embedders)
    sync = retriever.invoke(QUERY)
    assert asyncio.run(retriever.ainvoke(QUERY)) == sync
    assert retriever.batch([QUERY, QUERY]) == [sync, sync]


def test_without_the_extra_the_import_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_core.retrievers", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "workbench.integrations.langchain")
    with pytest.raises(ImportError) as raised:
        importlib.import_module("workbench.integrations.langchain")
    assert str(raised.value) == (
        "workbench.integrations.langchain needs langchain-core, which is not installed: "
        'pip install "embedding-workbench[integrations]"'
    )
