"""What a service worker serves, validated off the request path and swapped atomically.

A :class:`Follower` holds one immutable :class:`Serving`: production's
:class:`~workbench.production.serving.ProductionIndex` (the tagged version, its column, that
column's own model) and, while a rollout is in force, the candidate's index at the version the
rollout validated. A background thread checks the ``production`` tag and the rollout record
every ``interval`` seconds (and at once on :meth:`Follower.wake`, which ``SIGHUP`` calls). When
either moved it opens and validates the new one beside the old — column whole, model its pin,
canaries passing — and only then replaces the reference. A request takes the reference once and
finishes on it, so requests in flight complete on the version they started on, and no answer
mixes two columns.

When the new production fails validation the follower keeps serving the last good one, says
so in :attr:`Follower.problem` (``/ready``, ``/metrics``) and logs one line; it tries that
target again only when the tag or rollout moves again or on a wake-up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench.contract import PRODUCTION_TAG
from workbench.errors import FingerprintMismatchError, WorkbenchError
from workbench.production.rollout import current_rollout
from workbench.production.serving import ProductionIndex
from workbench.production.transition import TransitionIndex
from workbench.store.workspace import read_tags

if TYPE_CHECKING:
    from workbench.models.embedder import Embedder
    from workbench.service.metrics import ServiceMetrics
    from workbench.store.query_log import QueryLog
    from workbench.store.rollouts import RolloutStep
    from workbench.store.workspace import Workspace

__all__ = ["KEEP_MODELS", "Follower", "Serving", "Swap"]

log = logging.getLogger("workbench.service")

KEEP_MODELS = 4
"""Verified models a worker keeps loaded: production's, the candidate's and the last ones served."""


@dataclass(frozen=True)
class Serving:
    """One consistent state: production's index and, during a rollout, the candidate's.

    In a progressive rollout ``transition`` answers every query (both models, merged), and
    ``candidate`` is None.
    """

    production: ProductionIndex
    rollout: RolloutStep | None = None
    candidate: ProductionIndex | None = None
    transition: TransitionIndex | None = None


@dataclass(frozen=True)
class Swap:
    """A swap this worker made (or refused), for ``/production`` and the app."""

    at: str
    kind: str
    """``production`` or ``rollout``."""
    before: str
    after: str
    seconds: float
    ok: bool
    problem: str = ""


class Follower:
    """Follows ``production`` and the rollout record of one table (see the module docstring)."""

    def __init__(
        self,
        ws: Workspace,
        table: str,
        *,
        interval: float = 2.0,
        metrics: ServiceMetrics | None = None,
        query_log: QueryLog | None = None,
    ) -> None:
        self.ws = ws
        self.table = table
        self.interval = interval
        self.metrics = metrics
        self.query_log = query_log
        self.current: Serving | None = None
        """The state requests are answered from (None until production first validates)."""
        self.problem: str | None = None
        """Why the newest production or rollout is not served (None when it is)."""
        self.swaps: deque[Swap] = deque(maxlen=50)
        self.checked_at: float | None = None
        self._failed: dict[tuple[str, Any], str] = {}
        self._models: dict[str, Embedder] = {}  # column -> verified model, oldest first
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Load production (in the background) and follow it every ``interval`` seconds."""
        self._thread = threading.Thread(target=self._run, name="workbench-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def wake(self, *, retry: bool = True) -> None:
        """Check now (``SIGHUP``); with ``retry`` also re-validate targets that failed before."""
        if retry:
            self._failed.clear()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # never let the follower die: log and try again next interval
                log.exception("checking production of %r failed", self.table)
            self._wake.wait(self.interval)
            self._wake.clear()

    # --- one check --------------------------------------------------------------------------

    def check(self) -> Serving | None:
        """One pass: swap in a moved production or rollout once validated; the state served."""
        with self._lock:
            self.checked_at = time.monotonic()
            serving = self.current
            handle = self.ws.table(self.table)  # one read of the latest version and its tags
            tag = read_tags(handle).get(PRODUCTION_TAG)
            version = tag["version"] if tag is not None else None
            production = serving.production if serving is not None else None
            targets: list[tuple[str, Any]] = [("production", version)]
            if version is None:
                self._fail(targets[0], f"table {self.table!r} has no production tag yet")
            elif production is None or production.version != version:
                production = self._swap_production(production, version) or production
            if production is not None:
                rollout = current_rollout(self.ws, self.table)
                if rollout is not None and rollout.action == "progressive":
                    key: tuple[str, Any] = ("rollout", (rollout.candidate, rollout.seq, handle.version))
                    transition = self._transition(serving, production, rollout, key, handle.version)
                    new = Serving(production, rollout if transition is not None else None, None, transition)
                else:
                    key = ("rollout", (rollout.candidate, rollout.version) if rollout is not None else None)
                    candidate = self._candidate(serving, production, rollout, key)
                    new = Serving(production, rollout if candidate is not None else None, candidate)
                if rollout is not None:
                    targets.append(key)
                if serving is None or new != serving:
                    self._publish(serving, new)
            problems = [self._failed[key] for key in targets if key in self._failed]
            self.problem = "; ".join(problems) or None
            if self.metrics is not None:
                self.metrics.swap_ready.set(0 if self.problem else 1)
            return self.current

    def _swap_production(self, old: ProductionIndex | None, version: int) -> ProductionIndex | None:
        key = ("production", version)
        if key in self._failed:
            return None
        started = time.perf_counter()
        before = f"v{old.version} {old.column.name}" if old is not None else "nothing"
        try:
            if old is None:
                new = ProductionIndex.open(self.ws, self.table, query_log=self.query_log)
            else:
                new = old.follow(self._known())
        except WorkbenchError as exc:
            self._fail(key, f"production v{version} of {self.table!r} is not served: {exc}")
            self._record("production", before, f"v{version}", started, ok=False, problem=str(exc))
            self._count_canary(exc)
            return None
        self._record("production", before, f"v{new.version} {new.column.name}", started, ok=True)
        self._count_canary(None)
        log.info("serving production v%d of %r (%s)", new.version, self.table, new.column.name)
        return new

    def _candidate(
        self,
        serving: Serving | None,
        production: ProductionIndex,
        rollout: RolloutStep | None,
        key: tuple[str, Any],
    ) -> ProductionIndex | None:
        if rollout is None or rollout.candidate is None or rollout.version is None:
            return None
        if rollout.candidate == production.column.name:
            return None
        old = serving.candidate if serving is not None else None
        if old is not None and old.column.name == rollout.candidate and old.version == rollout.version:
            return old
        if key in self._failed:
            return None
        started = time.perf_counter()
        try:
            candidate = ProductionIndex.at_version(
                self.ws,
                self.table,
                rollout.candidate,
                rollout.version,
                embedder=self._known().get(rollout.candidate),
            )
        except WorkbenchError as exc:
            self._fail(key, f"the rollout's candidate {rollout.candidate} is not served: {exc}")
            self._record("rollout", "production only", rollout.candidate, started, ok=False, problem=str(exc))
            self._count_canary(exc)
            return None
        self._count_canary(None)
        self._record(
            "rollout", "production only", f"{rollout.candidate} v{rollout.version}", started, ok=True
        )
        return candidate

    def _transition(
        self,
        serving: Serving | None,
        production: ProductionIndex,
        rollout: RolloutStep,
        key: tuple[str, Any],
        latest: int,
    ) -> TransitionIndex | None:
        """The transition index at the table's latest version: re-opened as the new column fills."""
        old = serving.transition if serving is not None else None
        if (
            old is not None
            and old.version == latest
            and old.new.name == rollout.candidate
            and old.old.name == production.column.name
            and (old.merge, old.old_scope) == (rollout.merge, rollout.old_scope)
        ):
            return old
        if key in self._failed or rollout.candidate is None:
            return None
        started = time.perf_counter()
        try:
            index = TransitionIndex.open(
                self.ws,
                self.table,
                rollout.candidate,
                old_column=production.column.name,
                merge=rollout.merge or "rrf",
                old_scope=rollout.old_scope or "uncovered",
                embedders=self._known(),
            )
        except WorkbenchError as exc:
            self._fail(key, f"transition search over {rollout.candidate} is not served: {exc}")
            self._record("rollout", "production only", rollout.candidate, started, ok=False, problem=str(exc))
            return None
        for column, model in index.embedders.items():
            self._models[column] = model
        self._record("rollout", "transition", f"{index!r}", started, ok=True)
        return index

    def _known(self) -> dict[str, Embedder]:
        """Models loaded and verified here, by column: reused when production or a rollout moves.

        The last few columns served stay loaded (:data:`KEEP_MODELS`), so a rollback, or a
        promotion of the canary's candidate, validates without loading a model again.
        """
        serving = self.current
        if serving is not None:
            for index in (serving.production, serving.candidate):
                if index is not None:
                    self._models.pop(index.column.name, None)
                    self._models[index.column.name] = index.embedder
        while len(self._models) > KEEP_MODELS:
            self._models.pop(next(iter(self._models)))
        return dict(self._models)

    def _publish(self, before: Serving | None, after: Serving) -> None:
        self.current = after  # one reference assignment: a request sees the old or the new state
        if self.metrics is not None:
            self.metrics.production_version.set(after.production.version)
            percent = (
                after.rollout.percent if after.rollout is not None and after.candidate is not None else 0.0
            )
            self.metrics.rollout_percent.set(percent)
        if before is not None and before.rollout != after.rollout:
            what = after.rollout.message if after.rollout is not None else "no rollout: production serves all"
            log.info("rollout of %r: %s", self.table, what)

    def _fail(self, key: tuple[str, Any], message: str) -> None:
        if key not in self._failed:
            log.warning("%s", " ".join(message.split()))
        self._failed[key] = message

    def _record(
        self, kind: str, before: str, after: str, started: float, *, ok: bool, problem: str = ""
    ) -> None:
        seconds = time.perf_counter() - started
        self.swaps.append(Swap(datetime.now(UTC).isoformat(), kind, before, after, seconds, ok, problem))
        if self.metrics is not None:
            self.metrics.swaps.labels(kind=kind, result="ok" if ok else "failed").inc()

    def _count_canary(self, exc: WorkbenchError | None) -> None:
        if self.metrics is None:
            return
        if exc is None:
            self.metrics.canaries.labels(result="passed").inc()
        elif isinstance(exc, FingerprintMismatchError):
            self.metrics.canaries.labels(result="failed").inc()
