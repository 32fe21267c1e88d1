"""A live query: one query against two vector columns, each encoded by its own pinned model.

What users would get before and after a migration, for any text, without an eval set. The
result has the shape of :meth:`workbench.store.comparisons.Comparison.drilldown`, so a live query
and a stored comparison's drill-down are read (and shown) the same way; :func:`agreement`
sums up how much the two top-k lists agree.

Example:
    >>> frame = query_both(  # doctest: +SKIP
    ...     ws, "demo", "undo a commit", baseline="minilm-l3", candidate="minilm-l6"
    ... )
    >>> agreement(frame, k=10).overlap  # doctest: +SKIP
    0.6
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from workbench.checks import positive_int
from workbench.errors import InvalidArgumentError
from workbench.metrics.shifts import overlap_at_k, rank_biased_overlap
from workbench.retrieval.documents import fetch_documents
from workbench.retrieval.encode import embedder_for
from workbench.retrieval.search import retrieve
from workbench.store.comparisons import SIDES, drilldown_frame
from workbench.store.evalsets import EvalSet

if TYPE_CHECKING:
    from workbench.models.embedder import Embedder
    from workbench.store.workspace import Workspace

__all__ = [
    "Agreement",
    "agreement",
    "query_both",
    "with_judgements",
]

_QUERY_ID = "live"


@dataclass(frozen=True)
class Agreement:
    """How far two top-k lists of one query agree.

    Attributes:
        k: Depth of the lists.
        overlap: overlap@k: share of the k slots both lists fill with the same documents.
        rbo: Rank-biased overlap of the two top k (1 = identical, 0 = disjoint).
        baseline_top_score: The baseline's best cosine score (NaN without results).
        candidate_top_score: The candidate's; scales differ between models.
    """

    k: int
    overlap: float
    rbo: float
    baseline_top_score: float
    candidate_top_score: float


def query_both(
    ws: Workspace,
    table_name: str,
    query: str,
    *,
    baseline: str,
    candidate: str,
    k: int = 10,
    depth: int | None = None,
    embedders: Mapping[str, Embedder] | None = None,
) -> pd.DataFrame:
    """Search ``query`` in two columns, each encoded by the pinned model that wrote it.

    Args:
        ws: The workspace.
        table_name: The corpus table (searched at its latest version, exactly).
        query: Any text.
        baseline: Column name or model alias of the current side.
        candidate: Column name or model alias of the new side.
        k: Depth of the compared top lists.
        depth: Documents retrieved per side (default ``max(100, 3k)``), deeper than ``k`` so a
            document that left the top k still shows its new rank.
        embedders: Already-loaded models by column name (see
            :func:`workbench.retrieval.encode.embedder_for`); each column's pinned model otherwise.

    Returns:
        The :meth:`~workbench.store.comparisons.Comparison.drilldown` frame: doc_id, title, grade
        (``<NA>``: nothing is judged), status (kept / entered / left), baseline_rank,
        baseline_score, candidate_rank, candidate_score, delta_rank (positive = moved up).

    Raises:
        InvalidArgumentError: an empty query, ``k`` < 1, or the same column on both sides.
        NotFoundError: no such table or column.
        MixedIndexError: an injected embedder is not the model that wrote its column.
    """
    text = query.strip()
    if not text:
        raise InvalidArgumentError("the query is empty: give the text to search for")
    k = positive_int(k)
    table = ws.table(table_name)
    columns = [ws.resolve_column(table, name) for name in (baseline, candidate)]
    if columns[0].name == columns[1].name:
        raise InvalidArgumentError(
            f"baseline and candidate are the same column ({columns[0].name}); pick two different columns"
        )
    depth = max(depth or max(100, 3 * k), k)
    rankings = [
        retrieve(table, column, embedder_for(column, embedders), {_QUERY_ID: text}, k=depth).rankings
        for column in columns
    ]
    shown = set().union(*(ranking["doc_id"].head(k) for ranking in rankings))
    titles = fetch_documents(table, sorted(shown)).set_index("doc_id")["title"]
    return drilldown_frame(*rankings, k=k, titles=titles)


def agreement(frame: pd.DataFrame, *, k: int) -> Agreement:
    """Overlap@k, rank-biased overlap and the top-1 scores of a drill-down frame.

    Works on :func:`query_both` and :meth:`~workbench.store.comparisons.Comparison.drilldown` frames.
    """
    tops = {}
    for side in SIDES:
        top = frame[frame[f"{side}_rank"].le(k).fillna(False)].sort_values(f"{side}_rank")
        tops[side] = (top["doc_id"].tolist(), float(top[f"{side}_score"].iloc[0]) if len(top) else math.nan)
    (base, base_score), (cand, cand_score) = tops["baseline"], tops["candidate"]
    return Agreement(
        k=k,
        overlap=overlap_at_k(base, cand, k),
        rbo=rank_biased_overlap(base, cand),
        baseline_top_score=base_score,
        candidate_top_score=cand_score,
    )


def with_judgements(frame: pd.DataFrame, eval_set: EvalSet, query: str) -> pd.DataFrame | None:
    """``frame`` (of :func:`query_both`) with the eval set's grades, if ``query`` is one of its queries.

    Matched on the exact query text (surrounding spaces ignored); a query without any
    judgement, or text that is not an eval-set query, gives None. Unjudged documents of a
    judged query get grade 0, as the metrics count them.
    """
    wanted = query.strip()
    qid = next((q for q, text in eval_set.queries.items() if text.strip() == wanted), None)
    if qid is None or not eval_set.qrels.get(qid):
        return None
    grades = eval_set.qrels[qid]
    return frame.assign(grade=frame["doc_id"].map(lambda d: grades.get(str(d), 0)).astype("Int64"))
