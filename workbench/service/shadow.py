"""The shadow queue: live queries run against the rollout's candidate, off the request path.

The request handler answers from production, then :meth:`ShadowRunner.offer`\\ s the query
(with production's answer and latency) to a bounded queue and returns; when the queue is full
the query is dropped and counted, never waited for. One background thread runs each queued
query against the candidate index of the same :class:`~workbench.service.follower.Serving`
state and records the comparison in the shadow log (:class:`~workbench.production.shadow.ShadowLog`),
flushed in batches and when the queue is idle.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.production.serving import ProductionIndex, SearchResult
    from workbench.production.shadow import ShadowLog
    from workbench.service.metrics import ServiceMetrics

__all__ = ["ShadowRunner"]

log = logging.getLogger("workbench.service")

_IDLE_FLUSH = 2.0  # seconds without a shadow query before the buffered rows are written


@dataclass(frozen=True)
class _Job:
    candidate: ProductionIndex
    rollout: int
    answer: SearchResult
    k: int
    where: str | None
    production_ms: float


class ShadowRunner:
    """A bounded queue and the one thread that empties it (see the module docstring)."""

    def __init__(
        self, shadow_log: ShadowLog, *, maxsize: int = 256, metrics: ServiceMetrics | None = None
    ) -> None:
        self.log = shadow_log
        self.metrics = metrics
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=maxsize)
        self._thread = threading.Thread(target=self._run, name="workbench-shadow", daemon=True)
        self.recorded = 0
        self.dropped = 0
        self._thread.start()

    def offer(
        self,
        candidate: ProductionIndex,
        *,
        rollout: int,
        answer: SearchResult,
        k: int,
        where: str | None,
        production_ms: float,
    ) -> bool:
        """Queue one query for the shadow; False (dropped, counted) when the queue is full."""
        try:
            self._queue.put_nowait(_Job(candidate, rollout, answer, k, where, production_ms))
        except queue.Full:
            self.dropped += 1
            self._count("dropped")
            return False
        return True

    def stop(self) -> None:
        """Finish the queued queries, write the log, stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=60)
        self.log.flush()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued query is recorded and written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        self.log.flush()

    def _run(self) -> None:
        _lower_priority()
        while True:
            try:
                job = self._queue.get(timeout=_IDLE_FLUSH)
            except queue.Empty:
                self._flush()
                continue
            try:
                if job is None:
                    return
                self._shadow(job)
            finally:
                self._queue.task_done()

    def _shadow(self, job: _Job) -> None:
        started = time.perf_counter()
        try:
            answer = job.candidate.search(job.answer.query, k=job.k, where=job.where)
        except WorkbenchError as exc:
            log.warning(
                "shadow query on %s failed: %s", job.candidate.column.name, " ".join(str(exc).split())
            )
            self._count("failed")
            return
        candidate_ms = (time.perf_counter() - started) * 1000.0
        row = self.log.record(
            job.answer,
            answer,
            k=job.k,
            rollout=job.rollout,
            production_ms=job.production_ms,
            candidate_ms=candidate_ms,
        )
        self.recorded += 1
        self._count("recorded")
        if self.metrics is not None:
            self.metrics.shadow_overlap.observe(row["overlap"])
            self.metrics.shadow_rbo.observe(row["rbo"])

    def _flush(self) -> None:
        try:
            self.log.flush()
        except (OSError, RuntimeError, ValueError, WorkbenchError) as exc:
            log.warning("writing the shadow log failed: %s", " ".join(str(exc).split()))

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.shadow.labels(outcome=outcome).inc()


def _lower_priority() -> None:
    """Let request threads go first: this thread's nice value +10 (Linux sets it per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: the shadow still runs
        log.debug("could not lower the shadow thread's priority")
