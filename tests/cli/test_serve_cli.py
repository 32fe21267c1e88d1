"""``workbench serve`` as a user starts it (a subprocess, two workers, SIGHUP) and ``workbench rollout``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from tests.servers import free_port
from tests.service.helpers import wait_for
from workbench.cli.app import app
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.models.catalog import CATALOG
from workbench.production.promote import promote
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
runner = CliRunner()


def _serve(ws: Workspace, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    command = [sys.executable, "-m", "workbench.cli", "serve", "-w", str(ws.uri), "--port", str(port), *args]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return process, f"http://127.0.0.1:{port}"


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


def _ready(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_two_workers_follow_a_promotion_on_sighup_and_aggregate_metrics(
    compared_ws: Workspace, comparison_id: str
) -> None:
    token = "tok-" + "z" * 20
    process, url = _serve(
        compared_ws,
        "--workers",
        "2",
        "--interval",
        "3600",
        "--token-env",
        "WB_TOKEN",
        env={"WB_TOKEN": token},
    )
    auth = {"Authorization": f"Bearer {token}"}
    try:
        wait_for(lambda: _ready(url), "two workers to serve")
        first = httpx.post(f"{url}/search", json={"query": "rollback"}, headers=auth, timeout=60).json()
        promote(compared_ws, "demo", NEW, comparison=comparison_id)
        time.sleep(0.5)
        process.send_signal(signal.SIGHUP)  # workers re-read production now, not in an hour

        def all_new() -> bool:
            try:
                answers = [
                    httpx.post(f"{url}/search", json={"query": "rollback"}, headers=auth, timeout=60).json()
                    for _ in range(6)
                ]
            except (httpx.TransportError, json.JSONDecodeError):
                return False
            return all(a.get("column") == NEW for a in answers)

        wait_for(all_new, "both workers to serve the promotion")
        metrics = httpx.get(f"{url}/metrics", headers=auth, timeout=30).text
    finally:
        out = _stop(process)
    assert first["column"] == OLD
    assert 'workbench_requests_total{endpoint="/search",status="200"}' in metrics
    assert token not in out


def test_serve_refuses_an_unset_token_variable_and_an_unknown_table(demo_ws: Workspace) -> None:
    unset = runner.invoke(app, ["serve", "-w", str(demo_ws.uri), "--token-env", "WB_SURELY_UNSET"])
    missing = runner.invoke(app, ["serve", "-w", str(demo_ws.uri), "-t", "nope"])
    assert unset.exit_code == 2 and "WB_SURELY_UNSET, which is not set" in unset.output
    assert missing.exit_code == 2 and "nope" in missing.output


@pytest.mark.slow
def test_rollout_commands(compared_ws: Workspace, comparison_id: str) -> None:
    ws = ["-w", str(compared_ws.uri)]
    shadow = runner.invoke(app, ["rollout", "shadow", NEW_MODEL, "--sample", "0.25", "--reason", "try", *ws])
    canary = runner.invoke(app, ["rollout", "canary", NEW, "--percent", "5", *ws])
    bad = runner.invoke(app, ["rollout", "canary", NEW, "--percent", "100", *ws])
    status = runner.invoke(app, ["rollout", "status", "--json", *ws])
    report = runner.invoke(app, ["rollout", "report", *ws])
    abort = runner.invoke(app, ["rollout", "abort", *ws])
    again = runner.invoke(app, ["rollout", "abort", *ws])
    history = runner.invoke(app, ["history", *ws])
    assert shadow.exit_code == 0 and "#1 shadow" in shadow.output and "25% of queries" in shadow.output
    assert canary.exit_code == 0 and "#2 canary" in canary.output and "5% of traffic" in canary.output
    assert bad.exit_code == 2 and bad.output.startswith("error: --percent must be in (0, 100)")
    assert json.loads(status.output)["active"]["percent"] == 5.0
    assert report.exit_code == 0 and "no shadow queries recorded" in report.output
    assert abort.exit_code == 0 and "#3 rollout aborted" in abort.output
    assert again.exit_code == 0 and "nothing to abort" in again.output
    rollout_lines = [line for line in history.output.splitlines() if " rollout " in line]
    assert [line.split()[3] for line in rollout_lines] == ["#1", "#2", "#3"]  # in time order, with the moves
