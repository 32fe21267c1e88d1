"""Real servers for the scale-out tests: a local Ray (once per session) and an S3 server (moto).

Both are started by fixtures on 127.0.0.1 and stopped at the end of the session; tests that
need them skip cleanly when the optional packages (the ``ray`` extra, ``moto[server]``) are
absent. Loaded from ``tests/conftest.py`` as a pytest plugin.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A local Ray on this machine (2 CPUs, no dashboard), started once; yields its address.

    Other processes (the CLI in the kill -9 test) join it with ``--ray-address``.
    """
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    env = {
        k: os.environ[k]
        for k in ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM", "PYTHONPATH")
        if k in os.environ
    }
    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": env} if env else None,
        )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def bucket(self) -> str:
        """Create a new, empty bucket and return its name."""
        name = f"wb-{uuid.uuid4().hex[:12]}"
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/{name}", method="PUT"), timeout=10)
        return name

    def bytes_under(self, bucket: str, prefix: str = "") -> int:
        """Total size of the objects under ``prefix`` (boto3, the way any S3 client sees it)."""
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        total = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            total += sum(o["Size"] for o in page.get("Contents", []))
        return total

    @property
    def options(self) -> dict[str, str]:
        """Storage options for LanceDB (fake credentials: moto accepts any)."""
        return {
            "aws_endpoint": self.endpoint,
            "aws_region": "us-east-1",
            "allow_http": "true",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """``moto_server`` on 127.0.0.1 and a free port, for the whole session."""
    pytest.importorskip("moto", reason="moto[server] is not installed")
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if binary is None:
        pytest.skip("moto_server is not on the PATH")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"moto_server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start in 30 s: {log.read_text()[-2000:]}")
            time.sleep(0.1)
    yield S3Server(endpoint)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
