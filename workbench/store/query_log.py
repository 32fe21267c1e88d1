"""The production query log: an opt-in, sampled, size-bounded record of what serving answered.

The serving path (:class:`workbench.production.serving.ProductionIndex`) hands each answered
query to a :class:`QueryLog` when one is given. The log keeps a random share of them
(``sample_rate``), buffers them in memory and appends them in batches to the workspace table
``wb_query_log`` (one LanceDB version per flush, never one per query), and trims the oldest
rows beyond ``max_rows``. Each row holds when, which table version and column answered, the
top-k cosine scores it returned and the query text: as written (``text="plain"``), as a
sha256 (``"hashed"``, the default: enough to count repeats, not to read them) or not at all
(``"none"``). Monitoring reads a bounded sample of the recent rows to follow the distribution
of production scores (:mod:`workbench.monitoring.monitor`); the scores need no re-encoding.

Example:
    >>> log = QueryLog(ws, sample_rate=0.1, max_rows=100_000)  # doctest: +SKIP
    >>> index = ProductionIndex.open(ws, "demo", query_log=log)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.contract import QUERY_LOG_TABLE, query_log_schema
from workbench.errors import InvalidArgumentError
from workbench.store.buffer import RecordBuffer

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["TEXT_MODES", "QueryLog", "TextMode", "read_query_log", "returned_counts", "text_mode"]


log = logging.getLogger(__name__)

TextMode = Literal["plain", "hashed", "none"]
TEXT_MODES: tuple[TextMode, ...] = ("plain", "hashed", "none")
"""How a served query's text is kept: as written, as a sha256, or not at all."""


def text_mode(text: str) -> TextMode:
    """``text`` if it is one of :data:`TEXT_MODES`.

    Raises:
        InvalidArgumentError: an unknown mode.
    """
    if text not in TEXT_MODES:
        raise InvalidArgumentError(f"text must be one of {', '.join(TEXT_MODES)}, got {text!r}")
    return text


class QueryLog:
    """A sampled, buffered, size-bounded writer of served queries (see the module docstring).

    Thread-safe; call :meth:`flush` (or use it as a context manager) before the process ends,
    or the last buffered rows are lost, which sampling tolerates by design.

    Args:
        ws: The workspace the log is written into.
        sample_rate: Share of queries kept, in (0, 1].
        max_rows: Rows kept per workspace; the oldest beyond it are deleted at a flush.
        text: ``"plain"``, ``"hashed"`` (sha256 of the text) or ``"none"``.
        flush_every: Buffered rows that trigger a write.
        seed: Seed of the sampling, for reproducible tests.
        clock: The time source (default: now, UTC).

    Raises:
        InvalidArgumentError: a rate outside (0, 1], ``max_rows`` or ``flush_every`` < 1, an
            unknown text mode.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        sample_rate: float = 1.0,
        max_rows: int = 100_000,
        text: TextMode = "hashed",
        flush_every: int = 256,
        seed: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not 0.0 < sample_rate <= 1.0:
            raise InvalidArgumentError(f"sample_rate must be in (0, 1], got {sample_rate!r}")
        text = text_mode(text)
        self._buffer = RecordBuffer(
            ws, QUERY_LOG_TABLE, query_log_schema(), max_rows=max_rows, flush_every=flush_every
        )
        self.ws = ws
        self.sample_rate = sample_rate
        self.max_rows = max_rows
        self.text: TextMode = text
        self.flush_every = flush_every
        self._rng = np.random.default_rng(seed)
        self._clock = clock or (lambda: datetime.now(UTC))

    def __enter__(self) -> QueryLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    def record(
        self,
        table: str,
        *,
        query: str,
        version: int,
        column: str,
        scores: Sequence[float],
        ids: Sequence[str] | None = None,
    ) -> bool:
        """Offer one answered query; True if the sample kept it. Flushes when the buffer is full.

        ``ids`` are the returned document ids in rank order (a progressive run with
        ``--priority query-log`` embeds the most often returned documents first).
        """
        if self.sample_rate < 1.0 and self._rng.random() >= self.sample_rate:
            return False
        row = {
            "table": table,
            "at": self._clock(),
            "version": version,
            "column": column,
            "query": query if self.text == "plain" else None,
            "query_sha256": hashlib.sha256(query.encode("utf-8")).hexdigest()
            if self.text != "none"
            else None,
            "scores": [float(s) for s in scores],
            "ids": [str(i) for i in ids] if ids is not None else None,
        }
        self._buffer.add(row)
        return True

    def flush(self) -> int:
        """Append the buffered rows (one version) and trim the log to ``max_rows``; rows written."""
        return self._buffer.flush()


def read_query_log(
    ws: Workspace,
    table: str,
    *,
    column: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
    seed: int = 0,
) -> pa.Table:
    """A random sample (at most ``limit`` rows) of the logged queries of ``table``.

    Args:
        ws: The workspace.
        table: The corpus table the queries were served from.
        column: Only queries answered by this vector column.
        since: Only queries logged at or after this time.
        limit: Most rows returned (a uniform sample without replacement when more match).
        seed: Seed of the sample.

    Returns:
        The matching rows (``at``, ``version``, ``column``, ``scores``, text or hash), oldest first.
    """
    if limit < 1:
        raise InvalidArgumentError(f"limit must be at least 1, got {limit!r}")
    if not ws.has_table(QUERY_LOG_TABLE):
        return query_log_schema().empty_table()
    condition = pc.field("table") == pa.scalar(table)
    if column is not None:
        condition &= pc.field("column") == pa.scalar(column)
    if since is not None:
        condition &= pc.field("at") >= pa.scalar(since.astimezone(UTC), pa.timestamp("us", tz="UTC"))
    data = ws.dataset(QUERY_LOG_TABLE).to_table(filter=condition)
    if data.num_rows > limit:
        keep = np.sort(np.random.default_rng(seed).choice(data.num_rows, size=limit, replace=False))
        data = data.take(pa.array(keep))
    return data.sort_by("at")


def returned_counts(ws: Workspace, table: str, *, limit: int = 100_000) -> dict[str, float]:
    """How often each document was returned by the logged queries of ``table``, rank-weighted.

    A document at rank r of an answer counts 1/r (the top hit matters most). Rows logged
    before the log recorded ids count nothing. Reads at most ``limit`` logged queries.
    """
    if not ws.has_table(QUERY_LOG_TABLE) or "ids" not in ws.dataset(QUERY_LOG_TABLE).schema.names:
        return {}
    rows = read_query_log(ws, table, limit=limit)
    counts: dict[str, float] = {}
    for answer in rows.column("ids").to_pylist():
        for rank, doc in enumerate(answer or (), start=1):
            counts[doc] = counts.get(doc, 0.0) + 1.0 / rank
    return counts
