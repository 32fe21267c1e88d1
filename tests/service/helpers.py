"""A real uvicorn server on 127.0.0.1 (a thread of the test process) around a workbench service."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from tests.servers import free_port
from workbench.service.api import ServiceState, create_app
from workbench.service.settings import ServiceSettings
from workbench.store.workspace import Workspace


@contextmanager
def running(
    ws: Workspace, *, ready: bool = True, seed: int | None = 0, **settings: Any
) -> Iterator[tuple[httpx.Client, ServiceState]]:
    """Serve ``ws`` on a free port; yield an httpx client on it and the service state; stop after."""
    port = free_port()
    config = ServiceSettings(
        workspace=str(ws.uri), port=port, follow_interval=settings.pop("follow_interval", 0.2), **settings
    )
    state = ServiceState(ws, config, rng_seed=seed)
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        wait_for(lambda: server.started, "the server to start")
        if ready:
            wait_for(lambda: client.get("/ready").status_code == 200, "production to be served")
        yield client, state
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=60)


def wait_for(condition: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
