"""Candidate watches: the stored record of every scheduled re-evaluation of the candidate models.

Table ``wb_candidate_watch``, one row per watch, appended: which table and eval set, when, the
production model, the deciding metric and margin, the verdict (``alarm``: a candidate beats
production by more than the margin with a confidence interval excluding 0; ``stay put``
otherwise), a one-line summary, and per candidate its delta with interval, Holm-adjusted p and
(for one that beats production) the estimated migration cost, as JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from workbench.contract import CANDIDATE_WATCH_TABLE, candidate_watch_schema
from workbench.store.records import append_records, read_records

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["CandidateWatch", "WatchVerdict", "append_watch", "list_watches"]

WatchVerdict = Literal["alarm", "stay put"]


@dataclass(frozen=True)
class CandidateWatch:
    """One re-evaluation of the candidates against production (a row of ``wb_candidate_watch``).

    Attributes:
        rows: One dict per candidate: ``label, column, delta, ci_low, ci_high, p_holm, beats``,
            and for a candidate that beats production ``plan`` (the migration estimate's line),
            ``plan_seconds`` and ``plan_cost`` (None when the price is unknown).
    """

    table: str
    at: str
    eval_set: str
    production: str
    metric: str
    margin: float
    verdict: WatchVerdict
    summary: str
    rows: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    seq: int = 0

    @property
    def alarmed(self) -> bool:
        return self.verdict == "alarm"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows": [dict(r) for r in self.rows]}


def append_watch(ws: Workspace, watch: CandidateWatch) -> CandidateWatch:
    """Store one watch (one small append); ``seq`` is assigned here, after the last stored one."""
    done = list_watches(ws, watch.table)
    stored = CandidateWatch(**{**_fields(watch), "seq": (done[-1].seq if done else 0) + 1})
    row = {k: v for k, v in _fields(stored).items() if k != "rows"}
    row["rows_json"] = json.dumps(list(stored.rows), ensure_ascii=False, default=float)
    append_records(ws, CANDIDATE_WATCH_TABLE, pa.Table.from_pylist([row], schema=candidate_watch_schema()))
    return stored


def list_watches(ws: Workspace, table: str | None = None) -> list[CandidateWatch]:
    """Stored watches (of one table, if named), oldest first."""
    data = read_records(ws, CANDIDATE_WATCH_TABLE, equals={"table": table} if table is not None else None)
    if data is None:
        return []
    watches = []
    for row in data.to_pylist():
        rows = tuple(json.loads(row.pop("rows_json")))
        watches.append(CandidateWatch(**row, rows=rows))
    return sorted(watches, key=lambda w: (w.table, w.seq))


def _fields(watch: CandidateWatch) -> dict[str, Any]:
    return {name: getattr(watch, name) for name in watch.__dataclass_fields__}
