"""The HTTP API of ``workbench serve`` (FastAPI): search production, readiness, metrics.

Endpoints (OpenAPI at ``/docs``):

* ``POST /search`` ``{"query", "k", "filter", "user"}`` → ranked results and exactly what
  produced them: the column, its pinned model, the table version, the index or exact search,
  and whether production or the canary answered. ``POST /search/batch`` takes ``queries``.
* ``GET /health``: the process is alive. ``GET /ready``: production is loaded and validated (503
  before); says when a newer production or rollout failed validation (``swap_ready: false``).
* ``GET /production``: what is served, the rollout, the recent swaps. ``GET /metrics``: Prometheus.

With a token (``--token-env``) every endpoint but ``/health``, ``/ready`` and the docs needs
``Authorization: Bearer <token>``. Bad input gets a 4xx JSON ``{"error": "..."}``, never a
traceback; the token is never logged.
"""

from __future__ import annotations

import hmac
import json
import logging
import random
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from workbench.errors import InvalidArgumentError, WorkbenchError
from workbench.models.canary import last_result
from workbench.production.rollout import in_canary
from workbench.production.shadow import ShadowLog
from workbench.service.follower import Follower, Serving
from workbench.service.metrics import ServiceMetrics
from workbench.service.settings import ServiceSettings
from workbench.service.shadow import ShadowRunner

if TYPE_CHECKING:
    from workbench.production.serving import ProductionIndex, SearchResult
    from workbench.production.transition import TransitionIndex, TransitionResult
    from workbench.store.workspace import Workspace

__all__ = ["ServiceState", "app_from_env", "create_app"]

log = logging.getLogger("workbench.service")


# --- request and response bodies ----------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SearchRequest(_Strict):
    query: str = Field(description="The text to search for.")
    k: int = Field(10, description="How many results.")
    filter: str | None = Field(
        None, description="A LanceDB SQL condition on the table's columns, applied first."
    )
    user: str | None = Field(
        None, description="Request key for canary stickiness (else the X-User-Id header)."
    )


class BatchRequest(_Strict):
    queries: list[str] = Field(description="The texts to search for.")
    k: int = 10
    filter: str | None = None
    user: str | None = None


class Result(BaseModel):
    rank: int
    id: str
    score: float = Field(
        description="Cosine similarity in the answering column's space (transition mode: the fused score)."
    )
    title: str
    text: str
    column: str = Field(description="The vector column that ranked this document.")
    model: str = Field(description="That column's pinned model.")


class SearchResponse(BaseModel):
    query: str
    results: list[Result]
    table: str
    column: str = Field(description="The one vector column that produced every result.")
    model: str = Field(description="That column's pinned model.")
    version: int = Field(description="The table version searched.")
    index: str = Field(description="`exact`, or the ANN index and its search parameters.")
    served_by: str = Field(
        description="`production`; `canary` when the rollout's candidate answered; `transition` when both "
        "models answered and their results were merged (progressive migration)."
    )
    took_ms: float
    coverage: float | None = Field(
        default=None, description="Transition mode: share of rows the new column covers."
    )


class BatchResponse(BaseModel):
    results: list[SearchResponse]


# --- the state of one worker --------------------------------------------------------------


class ServiceState:
    """One worker's follower, shadow runner, metrics and settings."""

    def __init__(self, ws: Workspace, settings: ServiceSettings, *, rng_seed: int | None = None) -> None:
        from workbench.store.query_log import QueryLog

        self.ws = ws
        self.settings = settings
        self.table = settings.table or ws.default_table()
        ws.table(self.table)  # an unknown table is refused before anything starts
        self.token = settings.token()
        self.metrics = ServiceMetrics()
        query_log = QueryLog(ws, sample_rate=settings.query_log_rate) if settings.query_log_rate > 0 else None
        self.follower = Follower(
            ws, self.table, interval=settings.follow_interval, metrics=self.metrics, query_log=query_log
        )
        self.shadow = ShadowRunner(
            ShadowLog(ws, text=settings.shadow_text),  # type: ignore[arg-type]
            maxsize=settings.shadow_queue,
            metrics=self.metrics,
        )
        self._rng = random.Random(rng_seed)
        self._rng_lock = threading.Lock()

    def serving(self) -> Serving:
        serving = self.follower.current
        if serving is None:
            raise _NotReady(self.follower.problem or "production is still loading")
        return serving

    def route(self, serving: Serving, key: str | None) -> tuple[ProductionIndex, str]:
        """The index that answers this request: the canary's for keys in its share, else production."""
        rollout = serving.rollout
        if (
            rollout is not None
            and rollout.action == "canary"
            and serving.candidate is not None
            and key
            and in_canary(key, rollout.percent)
        ):
            return serving.candidate, "canary"
        return serving.production, "production"

    def sampled(self, serving: Serving) -> bool:
        rollout = serving.rollout
        if rollout is None or rollout.action != "shadow" or serving.candidate is None:
            return False
        with self._rng_lock:
            return self._rng.random() < rollout.sample

    def check_limits(self, queries: list[str], k: int) -> None:
        s = self.settings
        if not 1 <= k <= s.max_k:
            raise InvalidArgumentError(f"k must be between 1 and {s.max_k}, got {k}")
        if not queries:
            raise InvalidArgumentError("no queries given; send at least one")
        if len(queries) > s.max_batch:
            raise InvalidArgumentError(
                f"at most {s.max_batch} queries per batch, got {len(queries)}; split it"
            )
        for query in queries:
            if not query.strip():
                raise InvalidArgumentError("the query is empty; give the text to search for")
            if len(query) > s.max_query_chars:
                raise InvalidArgumentError(
                    f"a query is {len(query)} characters, more than the limit of {s.max_query_chars}"
                )

    def close(self) -> None:
        self.follower.stop()
        self.shadow.stop()
        if self.follower.query_log is not None:
            self.follower.query_log.flush()


class _NotReady(Exception):
    pass


def _response(result: SearchResult | TransitionResult, served_by: str, took_ms: float) -> SearchResponse:
    """The JSON answer; each result names the column and model that ranked it."""
    return SearchResponse(
        query=result.query,
        results=[
            Result(
                rank=h.rank,
                id=h.id,
                score=h.score,
                title=h.title,
                text=h.text,
                column=getattr(h, "column", result.column),
                model=getattr(h, "model", result.model),
            )
            for h in result.hits
        ],
        table=result.table,
        column=result.column,
        model=result.model,
        version=result.version,
        index=result.index,
        served_by=served_by,
        took_ms=took_ms,
        coverage=getattr(result, "coverage", None),
    )


# --- the application ----------------------------------------------------------------------


def create_app(state: ServiceState, *, follow: bool = True) -> FastAPI:
    """The FastAPI application over ``state`` (its follower is started with the app)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if follow:
            state.follower.start()
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="Embedding workbench search",
        summary="Search the production column of a workbench table; follows promotions and rollbacks.",
        version="1",
        lifespan=lifespan,
    )
    app.state.workbench = state
    _errors(app, state)
    app.add_middleware(_BodyLimit, max_bytes=state.settings.max_body_bytes)

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        if state.token is None:
            return
        given = (authorization or "").removeprefix("Bearer ").strip() if authorization else ""
        if not (authorization or "").startswith("Bearer ") or not hmac.compare_digest(
            given.encode(), state.token.encode()
        ):
            raise StarletteHTTPException(401, "missing or wrong bearer token (Authorization: Bearer …)")

    guarded = [Depends(authorized)]

    @app.post("/search", response_model=SearchResponse, dependencies=guarded)
    def search(body: SearchRequest, x_user_id: Annotated[str | None, Header()] = None) -> SearchResponse:
        return _answer(state, [body.query], body.k, body.filter, body.user or x_user_id, "/search")[0]

    @app.post("/search/batch", response_model=BatchResponse, dependencies=guarded)
    def search_batch(body: BatchRequest, x_user_id: Annotated[str | None, Header()] = None) -> BatchResponse:
        answers = _answer(state, body.queries, body.k, body.filter, body.user or x_user_id, "/search/batch")
        return BatchResponse(results=answers)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/ready")
    def ready() -> JSONResponse:
        serving = state.follower.current
        body = _describe(state, serving)
        return JSONResponse(body, status_code=200 if serving is not None else 503)

    @app.get("/production", dependencies=guarded)
    def production() -> dict[str, Any]:
        body = _describe(state, state.follower.current)
        body["swaps"] = [vars(s) for s in list(state.follower.swaps)[-20:]]
        return body

    @app.get("/metrics", dependencies=guarded)
    def metrics() -> Response:
        return Response(state.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def _answer_transition(
    state: ServiceState, index: TransitionIndex, queries: list[str], k: int, where: str | None, endpoint: str
) -> list[SearchResponse]:
    if where is not None:
        raise InvalidArgumentError(
            "filters are not applied in transition mode (progressive migration); search without one, "
            "or `workbench rollout abort` to serve production alone"
        )
    started = time.perf_counter()
    results = [index.search(query, k=k) for query in queries]
    took = (time.perf_counter() - started) * 1000.0
    state.metrics.latency.labels(column=index.new.name, served_by="transition").observe(took / 1000.0)
    for result in results:
        state.metrics.transition_new_share.observe(result.new_share)
    state.metrics.requests.labels(endpoint=endpoint, status="200").inc()
    return [_response(result, "transition", took / len(queries)) for result in results]


def _answer(
    state: ServiceState, queries: list[str], k: int, where: str | None, key: str | None, endpoint: str
) -> list[SearchResponse]:
    state.check_limits(queries, k)
    serving = state.serving()
    if serving.transition is not None:
        return _answer_transition(state, serving.transition, queries, k, where, endpoint)
    index, served_by = state.route(serving, key)
    started = time.perf_counter()
    results = index.search_batch(queries, k=k, where=where)
    took = (time.perf_counter() - started) * 1000.0
    state.metrics.latency.labels(column=index.column.name, served_by=served_by).observe(took / 1000.0)
    state.metrics.requests.labels(endpoint=endpoint, status="200").inc()
    per_query = took / len(queries)
    if served_by == "production" and serving.candidate is not None and serving.rollout is not None:
        for result in results:
            if state.sampled(serving):
                state.shadow.offer(
                    serving.candidate, rollout=serving.rollout.seq, answer=result, k=k, where=where,
                    production_ms=per_query,
                )  # fmt: skip
    return [_response(result, served_by, per_query) for result in results]


def _describe(state: ServiceState, serving: Serving | None) -> dict[str, Any]:
    follower = state.follower
    body: dict[str, Any] = {
        "ready": serving is not None,
        "table": state.table,
        "swap_ready": follower.problem is None,
        "problem": follower.problem,
    }
    if serving is None:
        return body
    p = serving.production
    canary = last_result(p.embedder)
    body["production"] = {
        "column": p.column.name,
        "model": p.model,
        "version": p.version,
        "index": p.searched_with,
        "pin_verified": True,  # a production that failed any of these checks is never served
        "rows_complete": True,
        "canaries": None if canary is None else {"passed": canary.passed, "min_cosine": canary.min_cosine},
        "index_coverage": _coverage(p),
    }
    rollout = serving.rollout
    body["rollout"] = None
    if rollout is not None and serving.transition is not None:
        t = serving.transition
        body["rollout"] = {
            **rollout.to_dict(),
            "model": f"{t.new.ref.pin} + {t.old.ref.pin}",
            "index": t.searched_with,
            "version": t.version,
            "coverage": t.coverage.share,
        }
    elif rollout is not None and serving.candidate is not None:
        body["rollout"] = {
            **rollout.to_dict(),
            "model": serving.candidate.model,
            "index": serving.candidate.searched_with,
            "shadow_recorded": state.shadow.recorded,
            "shadow_dropped": state.shadow.dropped,
        }
    return body


def _coverage(index: ProductionIndex) -> float | None:
    """Share of the column's rows in its ANN index (None: exact search, no index)."""
    info = index.index
    if info is None:
        return None
    total = info.indexed_rows + info.unindexed_rows
    return info.indexed_rows / total if total else 1.0


def _errors(app: FastAPI, state: ServiceState) -> None:
    def counted(status: int, kind: str, message: str) -> JSONResponse:
        state.metrics.errors.labels(kind=kind).inc()
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return counted(422, "invalid", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(InvalidArgumentError)
    async def bad_argument(_: Request, exc: InvalidArgumentError) -> JSONResponse:
        return counted(400, "invalid", " ".join(str(exc).split()))

    @app.exception_handler(_NotReady)
    async def not_ready(_: Request, exc: _NotReady) -> JSONResponse:
        return counted(503, "not_ready", f"not ready: {exc}")

    @app.exception_handler(WorkbenchError)
    async def refused(_: Request, exc: WorkbenchError) -> JSONResponse:
        log.warning("search refused: %s", " ".join(str(exc).split()))
        return counted(503, "refused", " ".join(str(exc).split()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "unauthorized" if exc.status_code == 401 else "http"
        response = counted(exc.status_code, kind, str(exc.detail))
        if exc.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(Exception)
    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        log.error("internal error: %s: %s", type(exc).__name__, " ".join(str(exc).split())[:300])
        return counted(500, "internal", "internal error; see the server log")


class _BodyLimit:
    """ASGI middleware: refuse a body over ``max_bytes`` with 413 before the handler reads it."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen, answered = 0, False

        async def limited() -> dict[str, Any]:
            nonlocal seen, answered
            message = await receive()
            if message["type"] == "http.request" and not answered:
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # a chunked body without a length: stop reading it here
                    answered = True
                    await _too_large(send, self.max_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: dict[str, Any]) -> None:
            if not answered:  # the 413 was sent: whatever the handler answers is dropped
                await send(message)

        await self.app(scope, limited, guarded)


async def _too_large(send: Callable[..., Any], limit: int) -> None:
    message = f"the request body is larger than {limit} bytes; send less (or /search/batch in parts)"
    body = json.dumps({"error": message}).encode()
    await send(
        {"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


def app_from_env() -> FastAPI:
    """The application a uvicorn worker builds (``workbench.service.api:app_from_env``, factory)."""
    from workbench.store.workspace import open_workspace

    settings = ServiceSettings.from_env()
    ws = open_workspace(settings.workspace, create=False)
    state = ServiceState(ws, settings)
    if threading.current_thread() is threading.main_thread():  # a worker: SIGHUP re-checks production now
        signal.signal(signal.SIGHUP, lambda *_: state.follower.wake())
    return create_app(state)
