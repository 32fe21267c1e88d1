"""Batched retrieval for evaluation: encode many queries with a column's own model, search them.

Queries are encoded in batches by the pinned model that wrote the column (never by another
model: that would compare vectors from two different spaces). Search is exact, so a
comparison measures the models, not an index: :func:`scan_search` streams the column out of
LanceDB in blocks of documents and keeps a running top-k per query (one matrix product per
block, memory bounded by a byte budget, not the corpus), and :func:`search_column` asks
LanceDB itself (a 2-D array of query vectors in one call, any vector index bypassed). Both
give the same rankings; the scan is about 2–3× faster for a batch of queries, because LanceDB
scans the column once per query.

Rankings follow trec_eval's order: score descending, then document id descending, so a rank
printed here is the rank trec_eval uses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.checks import positive_int
from workbench.errors import DimensionMismatchError, InvalidArgumentError, StaleColumnError
from workbench.models.canary import CanaryPin, CanaryResult, require_canaries
from workbench.models.embedder import Embedder, require_own_model
from workbench.models.loading import load_embedder
from workbench.progress import ProgressFn
from workbench.store.status import column_problems

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.store.workspace import VectorColumn

__all__ = [
    "RANKING_COLUMNS",
    "Retrieval",
    "check_fresh",
    "document_texts",
    "embedder_for",
    "encode_queries",
    "exact_search",
    "fetch_documents",
    "rank_hits",
    "read_vectors",
    "retrieve",
    "scan_search",
    "search_column",
    "verify_column_model",
]

log = logging.getLogger(__name__)

RANKING_COLUMNS = ["query_id", "rank", "doc_id", "score"]
_SEARCH_BATCH = 1024  # query vectors per LanceDB call: fewer scans of the column
_EXACT_BLOCK = 1024
_SCAN_BYTES = 256 * 2**20  # working memory of one streamed block (vectors + similarities)
_IO_BYTES = 64 * 2**20  # Lance's read-ahead while scanning a column
_SNIPPET = 240


def embedder_for(column: VectorColumn, embedders: Mapping[str, Embedder] | None = None) -> Embedder:
    """The embedder for ``column``: an injected one (keyed by column name) or its pinned model.

    The model is re-checked against the column's canary vectors before it is returned.

    Raises:
        MixedIndexError: the injected embedder is not the model that wrote the column.
        FingerprintMismatchError: the model's canary vectors changed since the column was made.
    """
    embedder = (embedders or {}).get(column.name)
    if embedder is None:
        embedder = load_embedder(column.ref)
    else:
        require_own_model(embedder, column.ref, column=column.name)
    verify_column_model(column, embedder)
    return embedder


def verify_column_model(column: VectorColumn, embedder: Embedder) -> CanaryResult | None:
    """Re-check ``embedder`` against the canary vectors stored with ``column`` (once per embedder).

    Returns None for a column made before canaries were recorded (its local model is still
    verified by file hash at load).

    Raises:
        FingerprintMismatchError: the model no longer gives the column's canary vectors.
    """
    if not column.canaries:
        log.debug("column %s has no canary vectors; relying on its file fingerprint", column.name)
        return None
    return require_canaries(embedder, CanaryPin.from_json(column.canaries))


def encode_queries(
    embedder: Embedder, column: VectorColumn, texts: Sequence[str], *, batch_size: int = 64
) -> np.ndarray:
    """Encode ``texts`` with the column's model into a float32 ``(n, dim)`` matrix."""
    vectors = embedder.encode_queries(list(texts), batch_size=batch_size)
    if vectors.shape != (len(texts), column.dim):
        raise DimensionMismatchError(
            f"model {embedder.ref.name!r} returned query vectors of shape {vectors.shape}, "
            f"expected ({len(texts)}, {column.dim}) for column {column.name}"
        )
    return np.ascontiguousarray(vectors, dtype=np.float32)


@dataclass(frozen=True)
class Retrieval:
    """The top-k of every query against one column, the query vectors, and where the time went (seconds)."""

    rankings: pd.DataFrame
    encode_s: float
    search_s: float
    vectors: np.ndarray | None = None


def retrieve(
    table: Table,
    column: VectorColumn,
    embedder: Embedder,
    queries: Mapping[str, str],
    *,
    k: int,
    chunk: int = _SEARCH_BATCH,
    on_progress: ProgressFn | None = None,
) -> Retrieval:
    """Encode ``queries`` with the column's own model and search them, ``chunk`` at a time.

    Args:
        table: The corpus table, at the version to search.
        column: The vector column; ``embedder`` must be its pinned model.
        embedder: The column's model (see :func:`embedder_for`).
        queries: Query id → text.
        k: Documents per query.
        chunk: Queries encoded and searched per step (bounds memory).
        on_progress: Called with ``(queries_done, queries_total)``.

    Returns:
        Rankings as :func:`search_column` gives them, the query vectors, encode and search seconds.

    Raises:
        MixedIndexError: ``embedder`` is not the column's model.
        DimensionMismatchError: the model returns vectors of another dimension than the column.
    """
    require_own_model(embedder, column.ref, column=column.name)
    ids, texts = list(queries), list(queries.values())
    parts, encoded, encode_s, search_s = [], [], 0.0, 0.0
    for start in range(0, len(ids), chunk):
        tick = time.perf_counter()
        vectors = encode_queries(embedder, column, texts[start : start + chunk])
        encoded.append(vectors)
        encode_s += time.perf_counter() - tick
        tick = time.perf_counter()
        parts.append(scan_search(table, column.name, vectors, ids[start : start + chunk], k=k))
        search_s += time.perf_counter() - tick
        if on_progress is not None:
            on_progress(min(start + chunk, len(ids)), len(ids))
    rankings = pd.concat(parts, ignore_index=True) if parts else rank_hits(_empty_hits(), np.array([]))
    matrix = np.concatenate(encoded) if encoded else np.empty((0, column.dim), dtype=np.float32)
    return Retrieval(rankings, encode_s, search_s, matrix)


def check_fresh(table: Table, columns: Sequence[VectorColumn], *, allow_stale: bool = False) -> list[str]:
    """Refuse (or, with ``allow_stale``, warn about) columns with missing or stale rows.

    Returns:
        One warning per unhealthy column when ``allow_stale`` is True; else an empty list.

    Raises:
        StaleColumnError: a column has rows without a vector, or vectors computed from text
            that has changed since (counted inside Lance by :func:`workbench.status.column_problems`).
    """
    problems = []
    for column in columns:
        missing, stale = column_problems(table, column, read_vectors=False)
        if missing or stale:
            problems.append(
                f"column {column.name} has {missing} rows without a vector and {stale} stale rows "
                "(text changed after embedding)"
            )
    if problems and not allow_stale:
        raise StaleColumnError(
            "; ".join(problems) + ": its numbers would not describe the current corpus. Re-ingest "
            "the changed documents (dual-write re-embeds them) or pass allow_stale / --allow-stale "
            "to go ahead anyway"
        )
    return [f"{problem}; compared anyway" for problem in problems]


def search_column(
    table: Table,
    column: str,
    vectors: np.ndarray,
    query_ids: Sequence[str],
    *,
    k: int,
    batch_size: int = _SEARCH_BATCH,
    on_progress: ProgressFn | None = None,
) -> pd.DataFrame:
    """Exact top-``k`` cosine search of many query vectors against one vector column.

    Args:
        table: The corpus table, at the version to search.
        column: The vector column to search.
        vectors: ``(n, dim)`` query vectors made by the column's own model.
        query_ids: The ``n`` query ids, in the order of ``vectors``.
        k: Documents per query (at least 1).
        batch_size: Query vectors per LanceDB call.
        on_progress: Called with ``(queries_done, queries_total)`` after each call.

    Returns:
        ``query_id, rank, doc_id, score`` (cosine similarity, ``1 - _distance``), ranks 1..k
        in trec_eval order.
    """
    k = positive_int(k)
    if len(query_ids) != len(vectors):
        raise InvalidArgumentError(f"{len(query_ids)} query ids for {len(vectors)} query vectors")
    parts = []
    for start in range(0, len(vectors), batch_size):
        chunk = vectors[start : start + batch_size]
        parts.append(_search_batch(table, column, chunk, k=k, offset=start))
        if on_progress is not None:
            on_progress(start + len(chunk), len(vectors))
    hits = pa.concat_tables(parts) if parts else _empty_hits()
    return rank_hits(hits, np.asarray(query_ids, dtype=object))


def scan_search(
    table: Table,
    column: str,
    vectors: np.ndarray,
    query_ids: Sequence[str],
    *,
    k: int,
    budget_bytes: int = _SCAN_BYTES,
) -> pd.DataFrame:
    """Exact top-``k`` cosine search by streaming the column from LanceDB in document blocks.

    Same output as :func:`search_column`. Each block of documents costs one matrix product
    against all queries; each block's own top-k is merged into a running top-k per query.
    Memory is bounded by ``budget_bytes`` (the block of vectors plus its similarity matrix),
    whatever the corpus size: only the ``k`` winners per query of each block are turned into
    Python objects, and no id is kept beyond them.
    """
    k = positive_int(k)
    if len(query_ids) != len(vectors):
        raise InvalidArgumentError(f"{len(query_ids)} query ids for {len(vectors)} query vectors")
    queries = _unit(np.asarray(vectors, dtype=np.float32))
    dim = queries.shape[1] if queries.ndim == 2 else 1
    block = max(256, budget_bytes // (4 * (3 * len(queries) + 2 * dim)))  # sims, argpartition, vectors
    best_sim = np.empty((len(queries), 0), dtype=np.float32)
    best_ids = np.empty((len(queries), 0), dtype=object)
    # No filter on the vector column: Lance would evaluate it over the whole column before the
    # first batch (about 0.9 GB at 1M × 384-d); rows without a vector are dropped per block.
    batches = table.to_lance().to_batches(
        columns=["id", column],
        batch_size=block,
        batch_readahead=1,
        fragment_readahead=1,
        io_buffer_size=_IO_BYTES,  # Lance reads ahead up to 2 GiB by default
    )
    for batch in batches:
        vectors_of = batch.column(column)
        if vectors_of.null_count:
            batch = batch.filter(vectors_of.is_valid())
            vectors_of = batch.column(column)
        if batch.num_rows == 0:
            continue
        width = batch.schema.field(column).type.list_size
        matrix = vectors_of.flatten().to_numpy().reshape(-1, width)
        sims, positions = _keep_top(queries @ _unit(matrix).T, np.arange(len(matrix), dtype=np.int64), k)
        # Only the block's own winners become Python strings: memory stays O(queries × k).
        ids = batch.column("id").take(pa.array(positions.reshape(-1))).to_numpy(zero_copy_only=False)
        best_sim, best_ids = _keep_top(
            np.hstack([best_sim, sims]), np.hstack([best_ids, ids.reshape(positions.shape)]), k
        )
    rows = np.repeat(np.arange(len(queries)), best_sim.shape[1])
    distance = (1.0 - best_sim.reshape(-1).astype(np.float64)).astype(np.float32)
    hits = pa.table(
        {"query_index": rows, "id": pa.array(best_ids.reshape(-1), pa.string()), "_distance": distance}
    )
    return rank_hits(hits, np.asarray(query_ids, dtype=object))


def _keep_top(sims: np.ndarray, positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best columns of each row of ``sims``, and their ``positions`` (1-D: one per column)."""
    if positions.ndim == 1:
        positions = np.broadcast_to(positions, sims.shape)
    if sims.shape[1] <= k:
        return sims, np.ascontiguousarray(positions)
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return np.take_along_axis(sims, top, axis=1), np.take_along_axis(positions, top, axis=1)


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def _search_batch(table: Table, column: str, vectors: np.ndarray, *, k: int, offset: int) -> pa.Table:
    query = vectors[0] if len(vectors) == 1 else vectors
    result = (
        table.search(query, vector_column_name=column)
        .distance_type("cosine")  # type: ignore[attr-defined]  # on the vector builder search() returns
        .bypass_vector_index()
        .select(["id", "_distance"])
        .limit(k)
        .to_arrow()
    )
    if "query_index" not in result.column_names:  # a single vector gives no query_index
        result = result.append_column("query_index", pa.array(np.zeros(len(result), dtype=np.int32)))
    index = pa.array(result.column("query_index").to_numpy().astype(np.int64) + offset)
    return pa.table(
        {"query_index": index, "id": result.column("id"), "_distance": result.column("_distance")}
    )


def _empty_hits() -> pa.Table:
    return pa.table(
        {
            "query_index": pa.array([], pa.int64()),
            "id": pa.array([], pa.string()),
            "_distance": pa.array([], pa.float32()),
        }
    )


def rank_hits(hits: pa.Table, query_ids: np.ndarray) -> pd.DataFrame:
    """Rankings from ``query_index, id, _distance`` hits: trec_eval order per query, ranks 1..k."""
    index = hits.column("query_index").to_numpy()
    doc = hits.column("id").to_numpy(zero_copy_only=False).astype(object)
    score32 = (1.0 - hits.column("_distance").to_numpy().astype(np.float64)).astype(np.float32)
    # lexsort: last key is primary → query, then score desc, then doc id desc.
    doc_desc = -pd.factorize(doc, sort=True)[0]
    order = np.lexsort((doc_desc, -score32, index))
    index, doc, score = index[order], doc[order], score32[order].astype(np.float64)
    starts = np.r_[0, np.flatnonzero(np.diff(index)) + 1] if len(index) else np.array([], dtype=int)
    rank = np.arange(len(index)) - np.repeat(starts, np.diff(np.r_[starts, len(index)])) + 1
    return pd.DataFrame(
        {"query_id": query_ids[index] if len(index) else [], "rank": rank, "doc_id": doc, "score": score}
    ).astype({"query_id": "str", "rank": np.int64, "doc_id": "str", "score": np.float64})


def fetch_documents(table: Table, doc_ids: Sequence[str] | np.ndarray) -> pd.DataFrame:
    """Title and a text snippet of every retrieved document, for reports and drill-downs."""
    ids = sorted(str(d) for d in doc_ids)
    data = table.to_lance().to_table(columns=["id", "title", "text"], filter=pc.field("id").isin(ids))
    frame = data.to_pandas().rename(columns={"id": "doc_id"})
    snippet = frame["text"].fillna("").str.slice(0, _SNIPPET)
    frame = frame.assign(title=frame["title"].fillna(""), snippet=snippet)[["doc_id", "title", "snippet"]]
    return frame.astype("str").sort_values("doc_id").reset_index(drop=True)


def document_texts(table: Table, doc_ids: Sequence[str]) -> dict[str, str]:
    """Full text of the given documents (for a person to read and judge), by id."""
    ids = sorted({str(d) for d in doc_ids})
    if not ids:
        return {}
    data = table.to_lance().to_table(columns=["id", "text"], filter=pc.field("id").isin(ids))
    return dict(zip(data.column("id").to_pylist(), data.column("text").to_pylist(), strict=True))


def read_vectors(table: Table, column: str) -> tuple[np.ndarray, np.ndarray]:
    """All document ids and vectors of one column (rows without a vector are skipped)."""
    data = table.to_lance().to_table(columns=["id", column], filter=f"{column} IS NOT NULL")
    dim = data.schema.field(column).type.list_size
    flat = data.column(column).combine_chunks().flatten().to_numpy()
    ids = data.column("id").to_numpy(zero_copy_only=False).astype(object)
    return ids, np.ascontiguousarray(flat.reshape(-1, dim), dtype=np.float32)


def exact_search(
    ids: np.ndarray, matrix: np.ndarray, vectors: np.ndarray, query_ids: Sequence[str], *, k: int
) -> pd.DataFrame:
    """Blocked numpy exact cosine search: the reference LanceDB's results are checked against.

    Same output as :func:`search_column`; rows of ``matrix`` and ``vectors`` are normalised
    here, so any vectors work.
    """
    docs = _unit(matrix)
    queries = _unit(vectors)
    k = min(k, len(ids))
    parts = []
    for start in range(0, len(queries), _EXACT_BLOCK):
        sims = queries[start : start + _EXACT_BLOCK] @ docs.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        rows = np.repeat(np.arange(len(top)) + start, k)
        cos = np.take_along_axis(sims, top, axis=1).reshape(-1)
        distance = (1.0 - cos.astype(np.float64)).astype(np.float32)
        parts.append(pa.table({"query_index": rows, "id": ids[top.reshape(-1)], "_distance": distance}))
    hits = pa.concat_tables(parts) if parts else _empty_hits()
    return rank_hits(hits, np.asarray(query_ids, dtype=object))
