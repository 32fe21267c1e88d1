"""Monitor runs: the stored record of every monitoring pass over production.

Table ``wb_monitor`` in the workspace, one row per pass, appended (one small LanceDB version
each, so the record table is itself versioned): which table, when, the production version and
column it looked at, the column's pin, the verdict (``ok`` or ``alarm``), and every signal with
its values, its verdict and why. Signals are stored as JSON so that a new signal needs no
schema change; their samples are bounded (a few hundred numbers), so a row stays small.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from workbench.contract import MONITOR_TABLE, monitor_schema
from workbench.store.records import append_records, read_records

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["MonitorRun", "Signal", "SignalStatus", "Verdict", "append_run", "list_monitor_runs"]


log = logging.getLogger(__name__)

Verdict = Literal["ok", "alarm"]
SignalStatus = Literal["ok", "alarm", "baseline", "skipped", "error"]
"""ok: within bounds; alarm: out of bounds; baseline: recorded, nothing to judge against yet;
skipped: its source is not available (the reason says which); error: it could not be measured."""


@dataclass(frozen=True)
class Signal:
    """One measured signal of a pass.

    Attributes:
        name: ``eval``, ``scores``, ``integrity``, ``canary``, ``index_recall``.
        status: See :data:`SignalStatus`.
        reason: One line for people: what was measured, against what, and why the verdict.
        values: The headline numbers, plotted over time (metric means, KS statistics, counts).
        detail: What the next pass needs to judge against this one (per-query metric values,
            a bounded score sample), and anything else worth keeping.
    """

    name: str
    status: SignalStatus
    reason: str
    values: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def alarmed(self) -> bool:
        return self.status in ("alarm", "error")


@dataclass(frozen=True)
class MonitorRun:
    """One monitoring pass (a row of ``wb_monitor``)."""

    table: str
    seq: int
    at: str
    production_version: int
    column: str
    pin: str
    verdict: Verdict
    alarms: tuple[str, ...]
    signals: tuple[Signal, ...]
    actions: tuple[str, ...] = ()
    duration_s: float = 0.0

    def signal(self, name: str) -> Signal | None:
        """The signal called ``name``, or None if the pass did not record it."""
        return next((s for s in self.signals if s.name == name), None)

    def to_dict(self, *, detail: bool = False) -> dict[str, Any]:
        """Plain data for JSON; ``detail=False`` drops the bulky per-query values and samples."""
        data = asdict(self)
        if not detail:
            for signal in data["signals"]:
                signal.pop("detail", None)
        return data


def append_run(ws: Workspace, run: MonitorRun) -> MonitorRun:
    """Store one pass (one small append); ``seq`` is assigned here, after the last stored one."""
    stored = MonitorRun(**{**_fields(run), "seq": _next_seq(ws, run.table)})
    row = {
        **{k: v for k, v in _fields(stored).items() if k not in ("alarms", "signals", "actions")},
        "alarms_json": json.dumps(list(stored.alarms), ensure_ascii=False),
        "signals_json": json.dumps([asdict(s) for s in stored.signals], ensure_ascii=False, default=float),
        "actions_json": json.dumps(list(stored.actions), ensure_ascii=False),
    }
    append_records(ws, MONITOR_TABLE, pa.Table.from_pylist([row], schema=monitor_schema()))
    log.info("monitor pass %d of %r: %s", stored.seq, stored.table, stored.verdict)
    return stored


def list_monitor_runs(
    ws: Workspace, table: str | None = None, *, last: int | None = None
) -> list[MonitorRun]:
    """Stored passes (of one table, if named), oldest first; ``last`` keeps only the newest ones."""
    data = read_records(ws, MONITOR_TABLE, equals={"table": table} if table is not None else None)
    if data is None:
        return []
    runs = sorted((_run(row) for row in data.to_pylist()), key=lambda r: (r.table, r.seq))
    return runs[-last:] if last else runs


def _next_seq(ws: Workspace, table: str) -> int:
    seqs = read_records(ws, MONITOR_TABLE, columns=["seq"], equals={"table": table})
    return 1 if seqs is None else max(seqs.column("seq").to_pylist(), default=0) + 1


def _fields(run: MonitorRun) -> dict[str, Any]:
    return {name: getattr(run, name) for name in run.__dataclass_fields__}


def _run(row: dict[str, Any]) -> MonitorRun:
    signals = tuple(Signal(**s) for s in json.loads(row.pop("signals_json")))
    alarms = tuple(json.loads(row.pop("alarms_json")))
    actions = tuple(json.loads(row.pop("actions_json")))
    return MonitorRun(**row, alarms=alarms, signals=signals, actions=actions)
