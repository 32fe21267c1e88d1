"""Reading the documents a search returned: titles and snippets for reports and drill-downs, full
texts for a person to judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.compute as pc

if TYPE_CHECKING:
    from lancedb.table import Table

__all__ = ["document_texts", "fetch_documents"]

_SNIPPET = 240


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
