"""A buffered, size-bounded appender for the logs the serving path writes (query log, shadow log).

Rows are kept in memory and appended in batches (one LanceDB version per flush, never one per
query); after a flush the oldest rows beyond ``max_rows`` are deleted (reading only the ``at``
column). Thread-safe: serving threads add rows while another flushes.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import InvalidArgumentError
from workbench.store.records import append_records

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["RecordBuffer"]

log = logging.getLogger(__name__)


class RecordBuffer:
    """Buffered appends of rows of ``schema`` to record table ``name``, trimmed to ``max_rows``.

    Raises:
        InvalidArgumentError: ``max_rows`` or ``flush_every`` < 1.
    """

    def __init__(
        self, ws: Workspace, name: str, schema: pa.Schema, *, max_rows: int, flush_every: int
    ) -> None:
        if max_rows < 1 or flush_every < 1:
            raise InvalidArgumentError(
                f"max_rows and flush_every must be at least 1, got {max_rows!r} and {flush_every!r}"
            )
        self.ws = ws
        self.name = name
        self.schema = schema
        self.max_rows = max_rows
        self.flush_every = flush_every
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._write = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: dict[str, Any]) -> None:
        """Buffer one row; flushes when the buffer is full."""
        with self._lock:
            self._rows.append(row)
            full = len(self._rows) >= self.flush_every
        if full:
            self.flush()

    def flush(self) -> int:
        """Append the buffered rows (one version) and trim the table to ``max_rows``; rows written."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        with self._write:  # one writer at a time: appends and trims of one process never interleave
            append_records(self.ws, self.name, pa.Table.from_pylist(rows, schema=self.schema))
            _trim(self.ws.db.open_table(self.name), self.max_rows)
        return len(rows)


def _trim(handle: Any, max_rows: int) -> None:
    """Delete the oldest rows beyond ``max_rows`` (reads only the ``at`` column)."""
    dataset = handle.to_lance()
    total = dataset.count_rows()
    if total <= max_rows:
        return
    times = dataset.to_table(columns=["at"]).column("at")
    cutoff = pc.array_sort_indices(times)[total - max_rows]
    oldest_kept = times[cutoff.as_py()].value  # microseconds since the epoch
    stamp = datetime.fromtimestamp(oldest_kept / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    handle.delete(f"at < TIMESTAMP '{stamp}'")
    log.debug("%s trimmed to %d rows", handle.name, handle.count_rows())
