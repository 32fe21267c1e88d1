"""Eval sets: named, labelled (or unlabelled) queries against one corpus table.

Stored in the workspace table ``wb_eval_sets``, one row per eval set, written with one
``merge_insert`` so that replacing an eval set is a single atomic version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict

import pyarrow as pa

from workbench.corpus.readers import Qrels
from workbench.errors import InvalidArgumentError, NotFoundError
from workbench.store.records import read_records, upsert_records

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = [
    "TABLE",
    "EvalSet",
    "EvalSetSummary",
    "list_eval_sets",
    "load_eval_set",
    "save_eval_set",
]

TABLE = "wb_eval_sets"


class EvalSetSummary(TypedDict):
    """One row of :func:`list_eval_sets`: an eval set without its queries and qrels."""

    name: str
    table: str
    created_at: str
    content_hash: str
    n_queries: int
    n_judged: int


_SCHEMA = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("table", pa.string()),
        pa.field("created_at", pa.string()),
        pa.field("content_hash", pa.string()),
        pa.field("n_queries", pa.int64()),
        pa.field("n_judged", pa.int64()),
        pa.field("queries_json", pa.string()),
        pa.field("qrels_json", pa.string()),
    ]
)


@dataclass(frozen=True)
class EvalSet:
    """Queries (``{id: text}``) and graded qrels (``{qid: {doc_id: grade}}``) for one table."""

    name: str
    table: str
    queries: dict[str, str]
    qrels: Qrels = field(default_factory=dict)
    created_at: str = ""

    @property
    def content_hash(self) -> str:
        """sha256 over the canonical queries and qrels: identifies exactly what was evaluated."""
        blob = json.dumps([self.queries, self.qrels], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @property
    def judged_queries(self) -> list[str]:
        """Query ids with at least one relevant (grade > 0) judgement."""
        return sorted(
            q for q, j in self.qrels.items() if q in self.queries and any(g > 0 for g in j.values())
        )


def save_eval_set(ws: Workspace, eval_set: EvalSet) -> EvalSet:
    """Create or replace an eval set (one LanceDB version)."""
    if not eval_set.queries:
        raise InvalidArgumentError(f"eval set {eval_set.name!r} has no queries")
    stamped = EvalSet(
        eval_set.name,
        eval_set.table,
        eval_set.queries,
        eval_set.qrels,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )
    row = pa.table(
        {
            "name": [stamped.name],
            "table": [stamped.table],
            "created_at": [stamped.created_at],
            "content_hash": [stamped.content_hash],
            "n_queries": [len(stamped.queries)],
            "n_judged": [len(stamped.judged_queries)],
            "queries_json": [json.dumps(stamped.queries, ensure_ascii=False)],
            "qrels_json": [json.dumps(stamped.qrels, ensure_ascii=False)],
        },
        schema=_SCHEMA,
    )
    upsert_records(ws, TABLE, row, key="name")
    return stamped


def list_eval_sets(ws: Workspace, *, table: str | None = None) -> list[EvalSetSummary]:
    """One summary dict per eval set (name, table, counts, hash, created_at), by name.

    Args:
        ws: The workspace.
        table: Only the eval sets of this corpus table.
    """
    data = read_records(ws, TABLE, columns=[f.name for f in _SCHEMA if not f.name.endswith("_json")])
    rows = data.to_pylist() if data is not None else []
    found = [EvalSetSummary(**r) for r in rows if table is None or r["table"] == table]  # type: ignore[typeddict-item]
    return sorted(found, key=lambda r: r["name"])


def load_eval_set(ws: Workspace, name: str) -> EvalSet:
    """An eval set by name; a miss lists the eval sets there are."""
    known = [r["name"] for r in list_eval_sets(ws)]
    if name not in known:
        raise NotFoundError(
            f"no eval set {name!r} in workspace {ws.uri!r}; eval sets: "
            f"{', '.join(known) or 'none — ingest a BEIR folder with queries and qrels'}"
        )
    row = read_records(ws, TABLE, equals={"name": name}).to_pylist()[0]  # type: ignore[union-attr]
    return EvalSet(
        name=row["name"],
        table=row["table"],
        queries=json.loads(row["queries_json"]),
        qrels={q: {d: int(g) for d, g in j.items()} for q, j in json.loads(row["qrels_json"]).items()},
        created_at=row["created_at"],
    )
