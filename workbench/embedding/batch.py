"""One batch of corpus rows in, its vector rows out: the step every engine and ingest share.

The local engine, each Ray worker and ingest's dual-write read the same corpus columns
(:data:`READ_COLUMNS`) and produce the same ``(id, vector, src)`` rows with
:func:`embed_batch`, so a column is the same whichever path computed it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from workbench.contract import document_text, vector_type
from workbench.errors import DimensionMismatchError
from workbench.models.embedder import Embedder
from workbench.models.ref import ModelRef
from workbench.store.workspace import column_metadata

__all__ = ["READ_COLUMNS", "embed_batch", "vector_schema"]

READ_COLUMNS = ["id", "title", "text", "content_hash"]
"""The corpus columns an embedding run reads: the text to embed, and the id and hash it keeps."""


def vector_schema(ref: ModelRef, *, canaries: str | None = None) -> pa.Schema:
    """``id`` + the vector column (carrying the pin and its canaries) + its ``src__`` column."""
    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field(ref.column, vector_type(ref.dim), metadata=column_metadata(ref, canaries=canaries)),
            pa.field(ref.src_column, pa.string()),
        ]
    )


def embed_batch(
    embedder: Embedder, batch: pa.RecordBatch | pa.Table, schema: pa.Schema, *, encode_batch: int
) -> pa.RecordBatch:
    """Embed one batch of corpus rows into ``(id, vector, src)`` with the given schema."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0]
    titles = batch.column("title").to_pylist()
    texts = batch.column("text").to_pylist()
    docs = [document_text(t or "", x) for t, x in zip(titles, texts, strict=True)]
    vectors = embedder.encode_documents(docs, batch_size=encode_batch)
    dim = schema.field(1).type.list_size
    if vectors.shape != (len(docs), dim):
        raise DimensionMismatchError(
            f"model {embedder.ref.name!r} returned vectors of shape {vectors.shape}, expected "
            f"({len(docs)}, {dim}); its pin's dim is wrong"
        )
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    return pa.RecordBatch.from_arrays(
        [
            batch.column("id"),
            pa.FixedSizeListArray.from_arrays(flat, dim),
            batch.column("content_hash"),
        ],
        schema=schema,
    )
