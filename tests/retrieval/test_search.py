"""Batched retrieval for evaluation: each chunk is encoded before the column is scanned for it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.demo import NEW_MODEL
from workbench.models.catalog import CATALOG
from workbench.models.sources.local import SentenceTransformerEmbedder
from workbench.retrieval.search import retrieve
from workbench.store.workspace import Workspace

QUERIES = {f"q{i}": text for i, text in enumerate(["rollback", "canary", "vector index", "drift", "gate"])}


class Recorded(SentenceTransformerEmbedder):
    """The real model, recording when it encodes."""

    def __init__(self, inner: SentenceTransformerEmbedder, events: list[str]) -> None:
        super().__init__(inner.ref, inner.model)
        self.events = events

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.events.append(f"encode {len(texts)}")
        return super().encode_queries(texts, batch_size=batch_size)


def test_the_scan_hook_runs_after_each_chunk_is_encoded(demo_ws: Workspace, embedders) -> None:
    """``before_scan`` (the CLI's low-peak malloc mode) starts after encoding, never around it."""
    column = CATALOG[NEW_MODEL].column
    events: list[str] = []
    table = demo_ws.table("demo")
    found = retrieve(
        table,
        demo_ws.resolve_column(table, column),
        Recorded(embedders[column], events),
        QUERIES,
        k=5,
        chunk=2,
        before_scan=lambda: events.append("scan"),
    )
    assert events == ["encode 2", "scan", "encode 2", "scan", "encode 1", "scan"]
    plain = retrieve(table, demo_ws.resolve_column(table, column), embedders[column], QUERIES, k=5)
    # The hook changes nothing in the results (scores differ in the last float bits by batch size).
    assert found.rankings[["query_id", "rank", "doc_id"]].equals(
        plain.rankings[["query_id", "rank", "doc_id"]]
    )
    assert np.allclose(found.rankings["score"], plain.rankings["score"], atol=1e-5)
