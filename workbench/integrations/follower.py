"""Following production from an application: the logic both framework retrievers share.

A :class:`~workbench.production.serving.ProductionIndex` stays on the version it resolved (that
is what keeps every answer inside one vector space); an application that must follow a
promotion or a rollback without a restart calls :meth:`~ProductionIndex.follow` now and then.
:class:`ProductionFollower` does that for a retriever: before a search it re-checks the
``production`` tag at most every ``follow_interval`` seconds and swaps to the newly validated
index, reusing the models it already loaded (a rollback does not reload the old model).

Two states need a rule:

- **Nothing in production yet.** The follower can be built before the first promotion; until
  then every search raises the workbench's one-line
  :class:`~workbench.errors.LifecycleError`, and the first search after ``workbench promote
  --initial`` is answered.
- **A new production that fails validation** (a stale column, a model that is not its pin, a
  failing canary). The follower keeps answering from the last good index, logs one warning per
  failing version (``problem`` holds it), and does not retry that version; the next move of the
  tag is followed as usual. This is what the HTTP service does too: a bad promotion never serves.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidArgumentError, LifecycleError, WorkbenchError
from workbench.production.serving import Hit, ProductionIndex, SearchResult, check_query
from workbench.store.production import ledger, production
from workbench.store.workspace import Workspace, open_workspace

if TYPE_CHECKING:
    from workbench.models.embedder import Embedder
    from workbench.store.query_log import QueryLog

__all__ = ["DEFAULT_FOLLOW_INTERVAL", "ProductionFollower", "hit_metadata", "workspace_of"]

log = logging.getLogger(__name__)

DEFAULT_FOLLOW_INTERVAL = 2.0
"""Seconds between two checks of the ``production`` tag (the HTTP service's default too)."""


class ProductionFollower:
    """The validated production index of one table, following the tag between searches.

    Thread-safe: one thread re-checks the tag while the others keep searching the index they
    hold (they never wait for a validation); a search always finishes on the version it started on.

    Args:
        workspace: The workspace, or its folder or URI (opened without creating anything).
        table: The corpus table (default: the workspace's only one).
        follow_interval: Seconds between two checks of the tag; 0 checks before every search.
        query_log: Where answered queries are logged (sampled), for monitoring.
        embedders: Already-loaded models by column name (else each column's pin is loaded once).
        clock: Monotonic seconds (injectable for tests).

    Raises:
        InvalidArgumentError: a negative or non-finite ``follow_interval``.
        NotFoundError: no such workspace folder or table.
        MixedIndexError, StaleColumnError, CorruptStateError: production exists and fails the
            start-up validation of :meth:`ProductionIndex.open`.
    """

    def __init__(
        self,
        workspace: Workspace | str | Path,
        table: str | None = None,
        *,
        follow_interval: float = DEFAULT_FOLLOW_INTERVAL,
        query_log: QueryLog | None = None,
        embedders: Mapping[str, Embedder] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ws = workspace_of(workspace)
        self.table = table or self.ws.default_table()
        self.ws.table(self.table)  # an unknown table is a usage error now, not at the first query
        self.follow_interval = _interval(follow_interval)
        self.query_log = query_log
        self.problem: str | None = None
        """Why the newest production is not served (the last good one is), or None."""
        self._embedders: dict[str, Embedder] = dict(embedders or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._checked = clock()
        self._refused: int | None = None
        self._index: ProductionIndex | None = None
        try:
            self._index = self._open()
        except LifecycleError:
            log.info("nothing is in production for %r yet; following the tag", self.table)

    def __repr__(self) -> str:
        return f"ProductionFollower({self.table!r}, serving={self._index!r})"

    @property
    def index(self) -> ProductionIndex | None:
        """The index searches use now (None before the first promotion)."""
        return self._index

    def search(self, query: str, *, k: int) -> SearchResult:
        """The ``k`` nearest documents in production, after following the tag if it is due.

        Raises:
            InvalidArgumentError: an empty query or ``k`` < 1.
            LifecycleError: nothing is in production yet.
        """
        check_query(query, k)
        return self.current().search(query, k=k)

    def current(self) -> ProductionIndex:
        """The index to search now: followed first if the interval has passed since the last check.

        One thread follows (re-checks the tag, validates a new production, loads its model); the
        others keep answering from the index they have meanwhile instead of waiting for it.

        Raises:
            LifecycleError: nothing is in production yet.
        """
        index = self._index
        if index is not None:
            if self._clock() - self._checked < self.follow_interval or not self._lock.acquire(blocking=False):
                return index
        else:
            self._lock.acquire()
        try:
            if self._index is None:
                self._index = self._open()  # raises the one-line "nothing in production" error
            elif self._clock() - self._checked >= self.follow_interval:  # not just followed by another
                self._follow(self._index)
            self._checked = self._clock()
            return self._index
        finally:
            self._lock.release()

    def _open(self) -> ProductionIndex:
        current = production(self.ws.table(self.table))
        model = self._embedders.get(current.column) if current is not None and current.column else None
        return self._remember(
            ProductionIndex.open(self.ws, self.table, embedder=model, query_log=self.query_log)
        )

    def _follow(self, index: ProductionIndex) -> None:
        tag: int | None = None
        try:
            tag = ledger(self.ws.table(self.table)).production
            if tag == index.version:  # not moved, or moved back to what is served
                self._refused, self.problem = None, None
            if tag is None or tag == index.version or tag == self._refused:
                return
            followed = index.follow(self._embedders)
        except WorkbenchError as exc:
            self._refused, self.problem = tag, str(exc)
            log.warning(
                "production v%s of %r is not served (still v%d): %s", tag, self.table, index.version, exc
            )
            return
        except (OSError, RuntimeError) as exc:
            # Tag reads already retry a tag file a concurrent move renamed (store.workspace.read_tags);
            # a storage error that outlasts them is not a verdict on production: retry next check.
            log.warning(
                "could not check production of %r (%s); still serving v%d, retrying at the next check",
                self.table,
                str(exc).splitlines()[0][:200],
                index.version,
            )
            return
        self._refused, self.problem = None, None
        self._index = self._remember(followed)

    def _remember(self, index: ProductionIndex) -> ProductionIndex:
        self._embedders.setdefault(index.column.name, index.embedder)
        return index


def workspace_of(workspace: Workspace | str | Path) -> Workspace:
    """``workspace`` itself, or the existing workspace at that folder or URI."""
    if isinstance(workspace, Workspace):
        return workspace
    return open_workspace(workspace, create=False)


def hit_metadata(result: SearchResult, hit: Hit) -> dict[str, Any]:
    """What a retrieved document says about itself and about the index that answered.

    ``id``, ``title``, ``score`` (cosine), ``rank``; then the provenance of the answer:
    ``table``, ``version`` (the production version searched), ``column``, ``model`` (the
    column's pin) and ``searched_with`` (``exact`` or the ANN index and its parameters).
    """
    return {
        "id": hit.id,
        "title": hit.title,
        "score": hit.score,
        "rank": hit.rank,
        "table": result.table,
        "version": result.version,
        "column": result.column,
        "model": result.model,
        "searched_with": result.index,
    }


def _interval(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InvalidArgumentError(
            f"follow_interval must be a number of seconds >= 0, got {value!r}; e.g. follow_interval=2"
        )
    return float(value)
