"""The mixed-index trap, on purpose — a demonstration of what the workbench refuses everywhere else.

:func:`mixed_search` searches a vector column with query vectors from *another* model, or a
half-migrated blend of two columns, and :func:`pairing_table` scores every such pairing on an
eval set. LanceDB and numpy accept the vectors, the dimensions match, no error is raised, and
the ranking is quietly worse. ``embed``, comparisons and serving raise
:class:`~workbench.errors.MixedIndexError` instead. Never use these functions to serve or
evaluate a real migration. :func:`expect_refusal` shows such a refusal in a notebook.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.errors import InvalidArgumentError, NotFoundError, WorkbenchError
from workbench.metrics.runs import ranking_metrics
from workbench.retrieval.exact import exact_search, read_vectors, search_column
from workbench.store.workspace import vector_columns

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.models.embedder import Embedder
    from workbench.store.evalsets import EvalSet

__all__ = ["Refusal", "cross_model_cosine", "expect_refusal", "mixed_search", "pairing_table"]


def mixed_search(
    table: Table,
    *,
    column: str,
    query_embedder: Embedder,
    queries: Mapping[str, str],
    k: int = 10,
    mix_with: str | None = None,
    mix_fraction: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """DEMONSTRATION ONLY: search ``column`` with queries encoded by ``query_embedder``.

    This deliberately skips the check every other search path makes (the query model must be
    the model pinned on the column), to show what a mixed-version index does: both demo
    models are 384-d, so the search runs, raises nothing, and returns plausible-looking but
    degraded rankings. The workbench refuses this everywhere else with ``MixedIndexError``.

    Args:
        table: The corpus table.
        column: The vector column searched.
        query_embedder: Any embedder with the column's dimension — typically the *wrong* one.
        queries: Query id → text.
        k: Documents per query.
        mix_with: Another vector column: a share of ``mix_fraction`` of the documents
            (chosen at random with ``seed``) take their vector from it instead, like an
            in-place re-embedding stopped halfway. ``None`` searches ``column`` alone, with
            LanceDB, exactly as a misconfigured service would.
        mix_fraction: Share of documents taken from ``mix_with``, in [0, 1].
        seed: Seed of the random choice of documents.

    Returns:
        ``query_id, rank, doc_id, score`` in trec_eval order (as ``search_column``).

    Raises:
        InvalidArgumentError: ``mix_fraction`` is outside [0, 1], or ``mix_with`` has another
            dimension than ``column``.
    """
    qids = list(queries)
    vectors = query_embedder.encode_queries([queries[q] for q in qids])
    if mix_with is None:
        return search_column(table, column, vectors, qids, k=k)
    if not 0.0 <= mix_fraction <= 1.0:
        raise InvalidArgumentError(f"mix_fraction must be in [0, 1], got {mix_fraction!r}")
    ids, matrix = _blend(table, column, mix_with, mix_fraction, seed)
    return exact_search(ids, matrix, vectors, qids, k=k)


def _blend(
    table: Table, column: str, other: str, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Document vectors of ``column``, a random ``fraction`` of rows replaced from ``other``."""
    ids, matrix = read_vectors(table, column)
    other_ids, other_matrix = read_vectors(table, other)
    if other_matrix.shape[1] != matrix.shape[1]:
        raise InvalidArgumentError(
            f"cannot blend {column} ({matrix.shape[1]}-d) with {other} ({other_matrix.shape[1]}-d)"
        )
    position = {doc: i for i, doc in enumerate(other_ids)}
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(ids))[: round(fraction * len(ids))]
    chosen = np.array([i for i in chosen if ids[i] in position], dtype=np.int64)
    blended = matrix.copy()
    if len(chosen):
        blended[chosen] = other_matrix[[position[d] for d in ids[chosen]]]
    return ids, blended


def pairing_table(
    table: Table,
    eval_set: EvalSet,
    *,
    old: Embedder,
    new: Embedder,
    metrics: Sequence[str] = ("ndcg@10", "recall@10"),
    k: int = 100,
    mix_fraction: float = 0.5,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Score every query-model × document-vectors pairing of two models on an eval set.

    Six pairings: each model's queries against its own column (``correct``), against the
    other model's column (``mixed``), and against a blend in which a share ``mix_fraction``
    of the documents carry the new model's vectors and the rest the old one's
    (``half-migrated``). DEMONSTRATION ONLY (see :func:`mixed_search`).

    Args:
        table: The corpus table with both models' vector columns.
        eval_set: Labelled queries; unjudged queries are searched but not scored.
        old: The old model's embedder (its column is ``old.ref.column``).
        new: The new model's embedder.
        metrics: Labelled metrics to average, e.g. ``["ndcg@10"]``.
        k: Search depth (at least the largest metric cut-off).
        mix_fraction: Share of documents carrying the new model's vectors in the blend.
        seed: Seed of the blend.

    Returns:
        A frame with one row per pairing — ``pairing`` (a readable label), ``queries``
        (``old`` / ``new``), ``documents`` (``old`` / ``new`` / ``half``), ``kind``
        (``correct`` / ``mixed`` / ``half-migrated``), then the mean of each metric over the
        judged queries — and the rankings of each pairing keyed by its label.

    Raises:
        NotFoundError: a model's column is not in ``table``.
    """
    names = {c.name for c in vector_columns(table)}
    for embedder in (old, new):
        if embedder.ref.column not in names:
            raise NotFoundError(
                f"table {table.name!r} has no column {embedder.ref.column} for {embedder.ref.pin}"
            )
    models = {"old": old, "new": new}
    blend = f"half-migrated vectors ({mix_fraction:.0%} new)"
    plans = [("old", "old"), ("new", "new"), ("old", "new"), ("new", "old"), ("old", "half"), ("new", "half")]
    rows, rankings = [], {}
    for queries, documents in plans:
        kind = "half-migrated" if documents == "half" else "correct" if queries == documents else "mixed"
        label = f"{queries} queries → {blend if documents == 'half' else documents + ' vectors'}"
        rankings[label] = mixed_search(
            table,
            column=old.ref.column if documents == "half" else models[documents].ref.column,
            query_embedder=models[queries],
            queries=eval_set.queries,
            k=k,
            mix_with=new.ref.column if documents == "half" else None,
            mix_fraction=mix_fraction,
            seed=seed,
        )
        means = ranking_metrics(rankings[label], eval_set.qrels, metrics).mean()
        rows.append({"pairing": label, "queries": queries, "documents": documents, "kind": kind, **means})
    return pd.DataFrame(rows), rankings


def cross_model_cosine(a: Embedder, b: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Cosine between each text's vector from model ``a`` and from model ``b``.

    Near 1 would mean the two models share a space; for two independently trained models it
    is near 0 even at equal dimension — the reason their vectors must never be mixed.

    Raises:
        InvalidArgumentError: the two models have different dimensions (nothing to compare).
    """
    if a.ref.dim != b.ref.dim:
        raise InvalidArgumentError(f"{a.ref.pin} is {a.ref.dim}-d and {b.ref.pin} is {b.ref.dim}-d")
    va, vb = a.encode_documents(list(texts)), b.encode_documents(list(texts))
    va = va / np.maximum(np.linalg.norm(va, axis=1, keepdims=True), 1e-12)
    vb = vb / np.maximum(np.linalg.norm(vb, axis=1, keepdims=True), 1e-12)
    return np.sum(va * vb, axis=1)


class Refusal:
    """The error the workbench raised inside :func:`expect_refusal` (filled in on exit)."""

    error: WorkbenchError | None = None

    @property
    def kind(self) -> str:
        return type(self.error).__name__ if self.error is not None else ""

    def __str__(self) -> str:
        return f"refused — {self.kind}: {self.error}" if self.error is not None else "not refused"

    def __repr__(self) -> str:
        return str(self)


@contextmanager
def expect_refusal(*expected: type[WorkbenchError]) -> Iterator[Refusal]:
    """Run a block that the workbench must refuse, and keep the error to show it.

    For notebooks and demonstrations: the block is expected to raise one of ``expected``
    (default: any :class:`~workbench.errors.WorkbenchError`); the error is caught and stored
    in the yielded :class:`Refusal`, whose ``str`` is ``"refused — ErrorName: message"``.

    Example:
        >>> with expect_refusal(NotFoundError) as refused:
        ...     raise NotFoundError("no table 'x'")
        >>> str(refused)
        "refused — NotFoundError: no table 'x'"

    Raises:
        AssertionError: the block raised nothing — the refusal being demonstrated did not
            happen, which must fail the notebook loudly rather than show a wrong story.
        Exception: any error not in ``expected`` propagates unchanged.
    """
    refusal = Refusal()
    catch: tuple[type[WorkbenchError], ...] = expected or (WorkbenchError,)
    try:
        yield refusal
    except catch as exc:
        refusal.error = exc
        return
    names = ", ".join(e.__name__ for e in expected) or "WorkbenchError"
    raise AssertionError(f"expected the workbench to refuse with {names}, but nothing was raised")
