"""The audit history of production: every promotion, rollback, refresh, retirement and maintenance.

Stored in the workspace table ``wb_promotions``, one row per event, appended (one small
LanceDB version each): who (the OS user or an explicit actor), when (UTC), which table, from
which column and version to which, the tag written, the comparison and the full gate result
(every check with its verdict and the thresholds used), whether it was forced, and why.
"""

from __future__ import annotations

import getpass
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
from pydantic import ValidationError

from workbench.contract import PROMOTIONS_TABLE, promotions_schema
from workbench.errors import CorruptStateError
from workbench.store.records import append_records, read_records

if TYPE_CHECKING:
    from workbench.gate.evaluate import GateResult
    from workbench.store.workspace import Workspace

__all__ = [
    "MOVES",
    "Action",
    "PromotionRecord",
    "append_event",
    "default_actor",
    "from_intent",
    "history",
    "intent_json",
]

log = logging.getLogger(__name__)

Action = Literal["promote", "rollback", "refresh", "retire", "maintain"]
MOVES = ("promote", "rollback", "refresh")
"""The actions that move the production tag (retire and maintain never do)."""


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
    resumed: bool = field(default=False, compare=False)
    """True when this run finished an interrupted command rather than starting a new one."""

    @property
    def key(self) -> tuple[str, str, str | None]:
        """What identifies one move: its tag (``production-<n>``, ``rolled-back-<n>``) is claimed
        once, so the same key twice is one event recorded twice, whatever versions they name."""
        return (self.table, self.action, self.tag)

    @property
    def message(self) -> str:
        """One line for people, e.g. for the CLI."""
        notes = ["finished an interrupted command"] if self.resumed else []
        notes += ["initial"] if self.initial else []
        if self.gate is not None:
            notes.append(f"gate {self.gate.verdict} on {self.gate.comparison_id}")
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
        if self.action == "maintain":
            return f"maintained {self.table!r} (v{self.to_version}): {self.reason}"
        return f"retired {self.from_column} from {self.table!r} (v{self.to_version})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the gate as a dict), for JSON output."""
        data = asdict(self)
        data["gate"] = None if self.gate is None else self.gate.model_dump(mode="json")
        return data


def history(ws: Workspace, table_name: str | None = None) -> list[PromotionRecord]:
    """Every promotion, rollback, refresh and retirement (of one table, if named), oldest first.

    A move recorded twice (two processes finishing the same interrupted command at once) is
    listed once (the first record): each move has a unique :attr:`PromotionRecord.key` (its tag).
    """
    data = read_records(
        ws, PROMOTIONS_TABLE, equals={"table": table_name} if table_name is not None else None
    )
    seen: set[tuple[str, str, str | None]] = set()
    records = []
    for row in data.to_pylist() if data is not None else []:
        record = _record(row)
        if record.tag is not None and record.key in seen:
            continue
        seen.add(record.key)
        records.append(record)
    return sorted(records, key=lambda r: (r.table, r.seq, r.at))


def append_event(
    ws: Workspace,
    table_name: str,
    action: Action,
    *,
    actor: str | None,
    now: datetime | None,
    at: str | None = None,
    **fields: Any,
) -> PromotionRecord:
    """Record one lifecycle event in ``wb_promotions`` (one small append); idempotent per move.

    If the same move (same action and tag) is already recorded, that record is returned and
    nothing is written, so finishing an interrupted command twice records it once.
    """
    events = history(ws, table_name)
    record = PromotionRecord(
        table=table_name,
        seq=len(events) + 1,
        action=action,
        at=at or (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        actor=actor or default_actor(),
        **fields,
    )
    if record.tag is not None:
        for event in events:
            if event.key == record.key:
                return event
    row = {**asdict(record), "gate_json": record.gate.model_dump_json() if record.gate else None}
    del row["gate"], row["resumed"]
    append_records(ws, PROMOTIONS_TABLE, pa.Table.from_pylist([row], schema=promotions_schema()))
    log.info("%s", record.message)
    return record


def default_actor() -> str:
    """The OS user name, for the history when no actor is given."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def intent_json(action: Action, *, actor: str | None, now: datetime | None, **fields: Any) -> str:
    """The record a promote or refresh is about to make, as JSON for ``workbench:promotion``.

    Written into the metadata-only version the move publishes, before any tag moves, so an
    interrupted command can be finished (and recorded exactly as it was asked) from the tag alone.
    """
    gate = fields.pop("gate", None)
    data = {
        "action": action,
        "at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "actor": actor or default_actor(),
        "gate_json": gate.model_dump_json() if gate is not None else None,
        **fields,
    }
    return json.dumps(data, sort_keys=True)


def from_intent(text: str | None) -> dict[str, Any]:
    """The fields of :func:`intent_json` (``at``, ``actor``, ``gate`` ...); ``{}`` if unreadable."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    gate = data.pop("gate_json", None)
    from workbench.gate.evaluate import GateResult  # pydantic model; its module imports pandas

    data["gate"] = GateResult.model_validate_json(gate) if gate else None
    return data


def _record(row: dict[str, Any]) -> PromotionRecord:
    gate = row.pop("gate_json")
    from workbench.gate.evaluate import GateResult  # pydantic model; its module imports pandas

    try:
        result = GateResult.model_validate_json(gate) if gate else None
    except ValidationError as exc:
        raise CorruptStateError(
            f"the promotion history holds an unreadable gate result for {row.get('tag')!r}: "
            f"{exc.errors()[0]['msg']}; the history table {PROMOTIONS_TABLE!r} was written by another version"
        ) from None
    return PromotionRecord(**row, gate=result)
