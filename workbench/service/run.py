"""Start the service on uvicorn: one worker in this process, or several worker processes."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile

from uvicorn.supervisors import Multiprocess

from workbench.service.settings import ENV_SETTINGS, ServiceSettings

__all__ = ["serve"]


def serve(settings: ServiceSettings) -> None:
    """Run ``workbench serve`` until interrupted (SIGINT/SIGTERM); ``SIGHUP`` re-checks production.

    The settings are checked first (a named token variable must be set; the table must exist),
    so a bad start fails before a port is bound. Several workers share the port (uvicorn's
    process manager); each follows production on its own, and ``/metrics`` aggregates them
    (prometheus-client multiprocess mode in a temporary folder).

    Raises:
        InvalidArgumentError: an unset token variable, bad limits.
        NotFoundError: no such workspace or table.
    """
    import uvicorn

    from workbench.store.workspace import open_workspace

    settings.token()
    ws = open_workspace(settings.workspace, create=False)
    ws.table(settings.table or ws.default_table())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ[ENV_SETTINGS] = settings.to_json()
    metrics_dir = None
    if settings.workers > 1:
        metrics_dir = tempfile.mkdtemp(prefix="workbench-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    config = uvicorn.Config(
        "workbench.service.api:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        access_log=settings.access_log,
        timeout_graceful_shutdown=10,
    )
    try:
        if settings.workers == 1:
            uvicorn.Server(config).run()
        else:
            _Workers(config, sockets=[config.bind_socket()]).run()
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


class _Workers(Multiprocess):
    """uvicorn's worker processes, with ``SIGHUP`` passed on to each worker.

    uvicorn restarts every worker on ``SIGHUP``; a workbench worker instead re-checks the
    production tag at once (and re-validates a target that failed), keeping its loaded models
    and the requests in flight.
    """

    def handle_hup(self) -> None:
        logging.getLogger("workbench.service").info("SIGHUP: every worker re-checks production now")
        for worker in self.processes:
            pid = worker.process.pid
            if pid is not None:
                os.kill(pid, signal.SIGHUP)
