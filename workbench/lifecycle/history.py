"""The audit history of production: every promotion, rollback, refresh and retirement.

Stored in the workspace table ``wb_promotions``, one row per event, appended (one small
LanceDB version each): who (the OS user or an explicit actor), when (UTC), which table, from
which column and version to which, the tag written, the comparison and the full gate result
(every check with its verdict and the thresholds used), whether it was forced, and why.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
from pydantic import ValidationError

from workbench.errors import CorruptStateError
from workbench.lifecycle.gate import GateResult
from workbench.store.records import append_records, read_records

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = [
    "TABLE",
    "Action",
    "PromotionRecord",
    "append_event",
    "default_actor",
    "history",
    "previous_production",
]

log = logging.getLogger(__name__)

TABLE = "wb_promotions"
Action = Literal["promote", "rollback", "refresh", "retire"]

_SCHEMA = pa.schema(
    [
        pa.field("table", pa.string()),
        pa.field("seq", pa.int64()),
        pa.field("action", pa.string()),
        pa.field("at", pa.string()),
        pa.field("actor", pa.string()),
        pa.field("from_column", pa.string()),
        pa.field("to_column", pa.string()),
        pa.field("from_version", pa.int64()),
        pa.field("to_version", pa.int64()),
        pa.field("tag", pa.string()),
        pa.field("comparison_id", pa.string()),
        pa.field("gate_json", pa.string()),
        pa.field("forced", pa.bool_()),
        pa.field("initial", pa.bool_()),
        pa.field("reason", pa.string()),
    ]
)


@dataclass(frozen=True)
class PromotionRecord:
    """One audited lifecycle event (a row of ``wb_promotions``)."""

    table: str
    seq: int
    action: Action
    at: str
    actor: str
    from_column: str | None
    to_column: str | None
    from_version: int | None
    to_version: int | None
    tag: str | None = None
    comparison_id: str | None = None
    gate: GateResult | None = None
    forced: bool = False
    initial: bool = False
    reason: str = ""

    @property
    def message(self) -> str:
        """One line for people, e.g. for the CLI."""
        notes = ["initial"] if self.initial else []
        if self.gate is not None:
            notes.append(f"gate {'passed' if self.gate.passed else 'FAILED'} on {self.gate.comparison_id}")
        if self.forced:
            notes.append("forced")
        if self.reason:
            notes.append(f"reason: {self.reason}")
        return self._headline() + (f" [{'; '.join(notes)}]" if notes else "")

    def _headline(self) -> str:
        where = f"{self.to_column} at v{self.to_version}"
        was = f"was {self.from_column} at v{self.from_version}" if self.from_column else "first production"
        if self.action == "promote":
            return f"production of {self.table!r} → {where} ({self.tag}; {was})"
        if self.action == "rollback":
            return f"rolled back {self.table!r}: production → {where} ({was})"
        if self.action == "refresh":
            return f"refreshed {self.table!r}: production → {where} ({self.tag}; same column, newer data)"
        return f"retired {self.from_column} from {self.table!r} (v{self.to_version})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the gate as a dict), for JSON output."""
        data = asdict(self)
        data["gate"] = None if self.gate is None else self.gate.model_dump(mode="json")
        return data


def history(ws: Workspace, table_name: str | None = None) -> list[PromotionRecord]:
    """Every promotion, rollback, refresh and retirement (of one table, if named), oldest first."""
    data = read_records(ws, TABLE, equals={"table": table_name} if table_name is not None else None)
    records = [_record(row) for row in (data.to_pylist() if data is not None else [])]
    return sorted(records, key=lambda r: (r.table, r.seq, r.at))


def append_event(
    ws: Workspace, table_name: str, action: Action, *, actor: str | None, now: datetime | None, **fields: Any
) -> PromotionRecord:
    """Record one lifecycle event in ``wb_promotions`` (one small append)."""
    record = PromotionRecord(
        table=table_name,
        seq=len(history(ws, table_name)) + 1,
        action=action,
        at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        actor=actor or default_actor(),
        **fields,
    )
    row = {**asdict(record), "gate_json": record.gate.model_dump_json() if record.gate else None}
    del row["gate"]
    append_records(ws, TABLE, pa.Table.from_pylist([row], schema=_SCHEMA))
    log.info("%s", record.message)
    return record


def default_actor() -> str:
    """The OS user name, for the history when no actor is given."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def previous_production(events: Sequence[PromotionRecord], current: int) -> int | None:
    """The production version before ``current``: replays the history as a stack of versions.

    Promotions and refreshes push; a rollback pops down to its target. So successive
    rollbacks walk further back, and a promotion after a rollback starts a new branch.
    """
    stack: list[int] = []
    for event in events:
        if event.to_version is None:
            continue
        if event.action in ("promote", "refresh"):
            stack.append(event.to_version)
        elif event.action == "rollback":
            while stack and stack[-1] != event.to_version:
                stack.pop()
            stack = stack or [event.to_version]
    if stack and stack[-1] == current:
        stack.pop()
    return stack[-1] if stack else None


def _record(row: dict[str, Any]) -> PromotionRecord:
    gate = row.pop("gate_json")
    try:
        result = GateResult.model_validate_json(gate) if gate else None
    except ValidationError as exc:
        raise CorruptStateError(
            f"the promotion history holds an unreadable gate result for {row.get('tag')!r}: "
            f"{exc.errors()[0]['msg']}; the history table {TABLE!r} was written by another version"
        ) from None
    return PromotionRecord(**row, gate=result)
