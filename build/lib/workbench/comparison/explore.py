"""Exploration helpers for the notebooks: time travel, schema diffs, and the mixed-index trap.

Two groups of functions live here:

* **Time travel** — :func:`table_at`, :func:`previous_version`, :func:`columns_frame` and
  :func:`schema_changes` open a corpus table as it was at an older version (by number or by
  tag) and show which columns, with which model pins, it had then versus now.
* **The mixed-index trap, on purpose** — :func:`mixed_search` searches a vector column with
  query vectors from *another* model, or a half-migrated blend of two columns, and
  :func:`pairing_table` scores every such pairing on an eval set. This is a demonstration of
  exactly what the workbench refuses everywhere else (``embed``, comparisons and serving
  raise :class:`~workbench.errors.MixedIndexError`): LanceDB and numpy accept the vectors,
  the dimensions match, no error is raised, and the ranking is quietly worse. Never use these
  functions to serve or evaluate a real migration.

Example:
    >>> tag = candidate_tag(ws.model("minilm-l6").column)  # doctest: +SKIP
    >>> before = table_at(ws, "demo", previous_version(ws.table("demo"), tag))  # doctest: +SKIP
    >>> schema_changes(before, ws.table("demo"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.comparison.retrieval import exact_search, read_vectors, search_column
from workbench.errors import InvalidArgumentError, NotFoundError, WorkbenchError
from workbench.metrics.labelled import Qrels, Run, per_query_metrics
from workbench.store.workspace import vector_columns

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.models.ref import Embedder
    from workbench.store.comparisons import Comparison
    from workbench.store.evalsets import EvalSet
    from workbench.store.workspace import Workspace

__all__ = [
    "Refusal",
    "columns_frame",
    "comparison_lists",
    "cross_model_cosine",
    "expect_refusal",
    "mixed_search",
    "pairing_table",
    "previous_version",
    "ranking_metrics",
    "run_from_rankings",
    "schema_changes",
    "side_by_side",
    "table_at",
]

_SCHEMA_COLUMNS = ["column", "kind", "type", "model", "dim"]


# --- time travel ---------------------------------------------------------------------------


def table_at(ws: Workspace, table: str, version: int | str) -> Table:
    """Open ``table`` read-only as it was at ``version`` (a version number or a tag).

    A fresh handle is returned, so other handles on the table (and the workspace) keep
    reading the latest version. LanceDB refuses writes through it (``ValueError``) until
    ``checkout_latest()`` is called.

    Args:
        ws: The workspace.
        table: The corpus table name.
        version: A version number (``3``) or a tag (``"production"``,
            ``"candidate-vec__…"``).

    Returns:
        The table checked out at that version.

    Raises:
        NotFoundError: the table, version or tag does not exist (the message lists what does).
    """
    handle = ws.table(table)
    handle.checkout(_resolve_version(handle, version))
    return handle


def previous_version(table: Table, version: int | str) -> int:
    """The version just before ``version`` (a number or a tag) in ``table``'s history.

    Versions are looked up, not computed as ``version - 1``: a cleaned-up history has gaps.

    Raises:
        NotFoundError: the version or tag does not exist, or it is the oldest version kept.
    """
    number = _resolve_version(table, version)
    older = [v for v in _versions(table) if v < number]
    if not older:
        raise NotFoundError(f"version {number} is the oldest version of table {table.name!r} still kept")
    return max(older)


def _versions(table: Table) -> list[int]:
    return sorted(int(v["version"]) for v in table.list_versions())


def _resolve_version(table: Table, version: int | str) -> int:
    """A version number from a number or a tag, checked against the table's history."""
    if isinstance(version, str):
        tags = table.tags.list()
        if version not in tags:
            have = ", ".join(sorted(tags)) or "none"
            raise NotFoundError(f"table {table.name!r} has no tag {version!r}; tags: {have}")
        return int(tags[version]["version"])
    versions = _versions(table)
    if isinstance(version, bool) or not isinstance(version, int | np.integer) or version not in versions:
        raise NotFoundError(
            f"table {table.name!r} has no version {version!r}; versions: "
            f"{versions[0]}–{versions[-1]} ({len(versions)} kept)"
        )
    return int(version)


def columns_frame(table: Table) -> pd.DataFrame:
    """Every column of ``table`` at its checked-out version, with the pin of vector columns.

    Returns:
        One row per column: ``column``, ``kind`` (``data``, ``vector`` or ``source hash`` —
        the companion column that records which text each vector was computed from),
        ``type``, ``model`` (``name@revision#fingerprint`` for a vector column, else empty)
        and ``dim`` (``<NA>`` when not a vector column).
    """
    pins = {c.name: c for c in vector_columns(table)}
    sources = {c.src_column: c for c in pins.values()}
    rows = []
    for field in table.schema:
        column = pins.get(field.name) or sources.get(field.name)
        kind = "vector" if field.name in pins else "source hash" if field.name in sources else "data"
        rows.append(
            {
                "column": field.name,
                "kind": kind,
                "type": str(field.type),
                "model": column.ref.pin if column else "",
                "dim": column.dim if field.name in pins and column else None,
            }
        )
    return pd.DataFrame(rows, columns=_SCHEMA_COLUMNS).astype({"dim": "Int64"})


def schema_changes(before: Table, after: Table) -> pd.DataFrame:
    """Which columns ``after`` added or removed relative to ``before``.

    Both tables may be handles on different versions of the same table (see
    :func:`table_at`).

    Returns:
        :func:`columns_frame` rows of both versions plus a ``change`` column (``added``,
        ``removed`` or ``unchanged``), in the order of ``after`` then the removed ones.
    """
    old, new = columns_frame(before), columns_frame(after)
    old_names, new_names = set(old["column"]), set(new["column"])
    new = new.assign(change=["unchanged" if c in old_names else "added" for c in new["column"]])
    removed = old[~old["column"].isin(new_names)].assign(change="removed")
    return pd.concat([new, removed], ignore_index=True)


# --- rankings and metrics ------------------------------------------------------------------


def run_from_rankings(rankings: pd.DataFrame) -> Run:
    """A ``query_id, doc_id, score`` ranking frame as a run (query → document → score)."""
    run: Run = {}
    for qid, doc, score in zip(rankings["query_id"], rankings["doc_id"], rankings["score"], strict=True):
        run.setdefault(str(qid), {})[str(doc)] = float(score)
    return run


def ranking_metrics(rankings: pd.DataFrame, qrels: Qrels, metrics: Sequence[str]) -> pd.DataFrame:
    """Per-query labelled metrics (pytrec_eval) of a ranking frame; see ``per_query_metrics``."""
    return per_query_metrics(run_from_rankings(rankings), qrels, metrics)


# --- the mixed-index trap (demonstration only) ---------------------------------------------


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


def side_by_side(
    table: Table,
    rankings: Mapping[str, pd.DataFrame],
    query_id: str,
    *,
    k: int = 5,
    qrels: Qrels | None = None,
) -> pd.DataFrame:
    """The top ``k`` documents of one query under several rankings, one column per ranking.

    Each cell reads ``doc_id · title``; a relevant document (grade > 0 in ``qrels``) is marked
    ``✓<grade>``.

    Args:
        table: The corpus table (for titles).
        rankings: Label → ``query_id, rank, doc_id`` frame (e.g. from :func:`mixed_search`).
        query_id: The query shown.
        k: Ranks shown.
        qrels: Judgements, to mark relevant documents.

    Returns:
        Indexed by rank 1..k; a cell is empty where a ranking has fewer than k documents.
    """
    lists = {label: _top_ids(frame, query_id, k) for label, frame in rankings.items()}
    titles = _titles(table, sorted({d for docs in lists.values() for d in docs}))
    return _lists_frame(lists, titles, (qrels or {}).get(query_id, {}), k)


def comparison_lists(cmp: Comparison, query_id: str, *, k: int = 10) -> pd.DataFrame:
    """Baseline and candidate top ``k`` of one query of a comparison, side by side.

    Cells read ``doc_id · title`` with ``✓<grade>`` on relevant documents; the column names
    say which model each list comes from. Complements ``Comparison.drilldown``, which lists
    each document once with its two ranks.

    Raises:
        NotFoundError: the query is not in the comparison.
    """
    cmp.query_text(query_id)  # raises NotFoundError with examples
    mine = cmp.rankings[cmp.rankings["query_id"] == query_id]
    manifest = cmp.manifest
    labels = {
        "baseline": f"baseline · {manifest.baseline_label or manifest.baseline_column}",
        "candidate": f"candidate · {manifest.candidate_label or manifest.candidate_column}",
    }
    lists = {labels[side]: _top_ids(mine[mine["side"] == side], query_id, k) for side in labels}
    titles = dict(zip(cmp.documents["doc_id"], cmp.documents["title"].fillna(""), strict=True))
    grades = {str(d): int(g) for d, g in zip(mine["doc_id"], mine["grade"], strict=True) if not pd.isna(g)}
    return _lists_frame(lists, titles, grades, k)


def _top_ids(frame: pd.DataFrame, query_id: str, k: int) -> list[str]:
    top = frame[frame["query_id"] == query_id].sort_values("rank").head(k)
    return [str(d) for d in top["doc_id"]]


def _lists_frame(
    lists: Mapping[str, list[str]], titles: Mapping[str, str], grades: Mapping[str, int], k: int
) -> pd.DataFrame:
    out = pd.DataFrame(index=pd.RangeIndex(1, k + 1, name="rank"))
    for label, docs in lists.items():
        cells = [_cell(d, titles.get(d, ""), grades.get(d, 0)) for d in docs]
        out[label] = cells + [""] * (k - len(cells))
    return out


def _cell(doc: str, title: str, grade: int) -> str:
    mark = f"  ✓{grade}" if grade > 0 else ""
    return f"{doc} · {title}{mark}"


def _titles(table: Table, doc_ids: Sequence[str]) -> dict[str, str]:
    if not doc_ids:
        return {}
    quoted = ", ".join("'" + d.replace("'", "''") + "'" for d in doc_ids)
    data = table.to_lance().to_table(columns=["id", "title", "text"], filter=f"id IN ({quoted})")
    titles = data.column("title").to_pylist()
    texts = data.column("text").to_pylist()
    return {
        doc: title or text[:60]
        for doc, title, text in zip(data.column("id").to_pylist(), titles, texts, strict=True)
    }


# --- showing a refusal ---------------------------------------------------------------------


@dataclass
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
