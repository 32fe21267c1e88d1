"""Top-k lists side by side: several rankings of one query, one column per ranking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from workbench.retrieval.documents import fetch_documents

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.metrics.labelled import Qrels
    from workbench.store.comparisons import Comparison

__all__ = ["comparison_lists", "side_by_side"]


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
        rankings: Label → ``query_id, rank, doc_id`` frame (e.g. from
            :func:`~workbench.comparison.mixed.mixed_search`).
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
    docs = fetch_documents(table, doc_ids)
    return {d: t or s[:60] for d, t, s in zip(docs["doc_id"], docs["title"], docs["snippet"], strict=True)}
