"""Batched retrieval for evaluation: encode many queries with a column's own model and search them
exactly, a chunk at a time; and the freshness check a comparison makes first.

Queries are encoded in batches by the pinned model that wrote the column (never by another
model: that would compare vectors from two different spaces), then searched by the streamed
exact scan of :mod:`workbench.retrieval.exact`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.errors import StaleColumnError
from workbench.models.embedder import Embedder, require_own_model
from workbench.progress import ProgressFn
from workbench.retrieval.encode import encode_queries
from workbench.retrieval.exact import SEARCH_BATCH, empty_hits, rank_hits, scan_search
from workbench.store.status import column_problems

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.store.workspace import VectorColumn

__all__ = ["Retrieval", "check_fresh", "retrieve"]


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
    chunk: int = SEARCH_BATCH,
    on_progress: ProgressFn | None = None,
    before_scan: Callable[[], object] | None = None,
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
        before_scan: Called before each scan of the column, after the chunk's queries are
            encoded (the CLI switches to its low-peak malloc mode there: see
            :func:`workbench.cli.common.lean_memory`).

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
        if before_scan is not None:
            before_scan()
        tick = time.perf_counter()
        parts.append(scan_search(table, column.name, vectors, ids[start : start + chunk], k=k))
        search_s += time.perf_counter() - tick
        if on_progress is not None:
            on_progress(min(start + chunk, len(ids)), len(ids))
    rankings = pd.concat(parts, ignore_index=True) if parts else rank_hits(empty_hits(), np.array([]))
    matrix = np.concatenate(encoded) if encoded else np.empty((0, column.dim), dtype=np.float32)
    return Retrieval(rankings, encode_s, search_s, matrix)


def check_fresh(table: Table, columns: Sequence[VectorColumn], *, allow_stale: bool = False) -> list[str]:
    """Refuse (or, with ``allow_stale``, warn about) columns with missing or stale rows.

    A progressive column's rows not embedded yet are expected, not a problem: it is accepted
    with a note of its coverage (its rankings cover the embedded rows only).

    Returns:
        One note per progressive column, then one warning per unhealthy column when
        ``allow_stale`` is True.

    Raises:
        StaleColumnError: a column has rows without a vector, or vectors computed from text
            that has changed since (counted inside Lance by :func:`workbench.store.status.column_problems`).
    """
    problems, notes = [], []
    for column in columns:
        missing, stale = column_problems(table, column, read_vectors=False)
        if column.is_progressive and not stale:
            total = table.count_rows()
            notes.append(
                f"column {column.name} is progressive: {total - missing} of {total} rows embedded "
                f"({100 * (total - missing) / max(total, 1):.1f}% coverage); it ranks only those rows"
            )
            continue
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
    return notes + [f"{problem}; compared anyway" for problem in problems]
