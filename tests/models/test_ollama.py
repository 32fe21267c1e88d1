"""The Ollama source, against a small local HTTP server implementing Ollama's documented API.

No Ollama server can be installed on this machine or in CI, so THIS FILE ONLY uses a minimal
stand-in (``FakeOllama`` below) that implements the two endpoints the workbench calls, as
documented: ``GET /api/tags`` (models with their manifest ``digest``) and ``POST /api/embed``
(``{"model", "input"}`` → ``{"model", "embeddings", "prompt_eval_count"}``). Its "weights" are a
seed: vectors are a deterministic function of (seed, text), so new weights behind the same tag
give different vectors, as a real ``ollama pull`` would. Requests go through the official
``ollama`` client.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.servers import free_port, mini_demo
from workbench.cli.app import app
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import FingerprintMismatchError, ServedModelError, UnpinnedModelError
from workbench.models.loading import load_embedder
from workbench.models.pin_options import PinOptions
from workbench.models.ref import ModelRef, ServingOptions
from workbench.store.pins import pin_model
from workbench.store.workspace import Workspace, open_workspace, vector_columns

runner = CliRunner()
TAG = "nomic-embed-text:v1.5"
FAST = ServingOptions(batch_size=8, concurrency=2, max_retries=2, timeout=10)


def digest_of(seed: int) -> str:
    return hashlib.sha256(f"weights-{seed}".encode()).hexdigest()


class FakeOllama:
    """``/api/tags`` and ``/api/embed`` as documented; ``seed`` stands for the weights."""

    def __init__(self) -> None:
        self.seed = 1
        self.fail_next: list[int] = []  # HTTP statuses to answer before serving normally
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def vector(self, text: str) -> list[float]:
        rng = np.random.default_rng(
            int.from_bytes(hashlib.sha256(f"{self.seed}|{text}".encode()).digest()[:8])
        )
        vec = rng.standard_normal(64)
        return (vec / np.linalg.norm(vec)).tolist()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, code: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                if self.path != "/api/tags":
                    self._json(404, {"error": "not found"})
                    return
                model = {"name": TAG, "model": TAG, "digest": digest_of(fake.seed), "size": 274302450}
                self._json(200, {"models": [model]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if fake.fail_next:
                    self._json(fake.fail_next.pop(0), {"error": "busy"})
                    return
                if body.get("model") != TAG:
                    self._json(404, {"error": f"model '{body.get('model')}' not found"})
                    return
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                self._json(
                    200,
                    {
                        "model": TAG,
                        "embeddings": [fake.vector(t) for t in texts],
                        "prompt_eval_count": sum(len(t.split()) for t in texts),
                    },
                )

        return Handler


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    server = FakeOllama()
    yield server
    server.close()


@pytest.fixture
def mini_ws(tmp_path: Path) -> Workspace:
    ws = open_workspace(tmp_path / "ws")
    ingest(ws, mini_demo(tmp_path / "mini", n_docs=12), table="mini", eval_set="mini")
    return ws


@pytest.mark.parametrize("model", ["nomic-embed-text:latest", "nomic-embed-text", "nomic-embed-text:"])
def test_a_moving_or_missing_tag_is_refused_with_what_to_write(empty_ws: Workspace, model: str) -> None:
    with pytest.raises(UnpinnedModelError, match=r"no fixed tag.*e\.g\. nomic-embed-text:v1\.5"):
        pin_model(empty_ws, "nomic", PinOptions(source="ollama", host="http://127.0.0.1:9", model=model))
    result = runner.invoke(
        app, ["models", "add", "nomic", "--source", "ollama", "--model", model, "-w", empty_ws.uri]
    )
    assert result.exit_code == 2 and "latest" in result.output
    assert not Path(empty_ws.uri, "workbench.toml").exists()


def test_pin_records_the_digest_and_embed_works(ollama: FakeOllama, mini_ws: Workspace) -> None:
    result = runner.invoke(
        app,
        [
            "models",
            "add",
            "nomic",
            "--source",
            "ollama",
            "--host",
            ollama.host,
            "--model",
            TAG,
            "--digest",
            f"sha256:{digest_of(1)}",
            "-w",
            mini_ws.uri,
        ],
    )
    assert result.exit_code == 0, result.output
    ref = open_workspace(mini_ws.uri).model("nomic")
    assert ref.digest == digest_of(1) and ref.dim == 64 and ref.revision == "v1.5"
    done = embed(mini_ws, "mini", ref, batch_size=4)
    assert done.created and done.rows == 12
    (column,) = vector_columns(mini_ws.table("mini"))
    assert column.usage is not None and column.usage["tokens"] > 0  # prompt_eval_count


def test_a_digest_mismatch_is_refused_at_pin_and_at_load(ollama: FakeOllama, mini_ws: Workspace) -> None:
    with pytest.raises(
        FingerprintMismatchError, match=r"has digest [0-9a-f]{16}…, not the [0-9a-f]{16}… you asked"
    ):
        pin_model(
            mini_ws, "nomic", PinOptions(source="ollama", host=ollama.host, model=TAG, digest=digest_of(2))
        )
    assert "nomic" not in open_workspace(mini_ws.uri).config.models
    ref, _ = pin_model(
        mini_ws, "nomic", PinOptions(source="ollama", host=ollama.host, model=TAG, serving=FAST)
    )
    versions = mini_ws.table("mini").version
    ollama.seed = 2  # `ollama pull` brought new weights behind the same tag
    with pytest.raises(
        FingerprintMismatchError, match=r"the tag now points at other weights.*Nothing was written"
    ):
        embed(mini_ws, "mini", ref)
    assert mini_ws.table("mini").version == versions


def test_transient_errors_are_retried_and_a_storm_stops(ollama: FakeOllama) -> None:
    ref = ModelRef(
        name=TAG,
        source="ollama",
        location=ollama.host,
        revision="v1.5",
        fingerprint="a" * 64,
        dim=64,
        digest=digest_of(1),
        serving=FAST,
    )
    embedder = load_embedder(ref)
    ollama.fail_next = [503, 429]
    vectors = embedder.encode_documents(["one", "two"])
    assert vectors.shape == (2, 64) and np.allclose(vectors[0], ollama.vector("one"))
    ollama.fail_next = [429] * 10
    with pytest.raises(ServedModelError, match=r"kept answering 429 after 2 retries.*re-run later to resume"):
        embedder.encode_documents(["three"])


def test_unreachable_and_unknown_model(ollama: FakeOllama, empty_ws: Workspace) -> None:
    with pytest.raises(
        ServedModelError, match=r"cannot reach ollama at http://127\.0\.0\.1:9 .*ollama serve"
    ):
        pin_model(
            empty_ws, "n", PinOptions(source="ollama", host="http://127.0.0.1:9", model=TAG, serving=FAST)
        )
    with pytest.raises(
        ServedModelError, match=r"has no model 'all-minilm:v2' \(it has: nomic-embed-text:v1\.5\)"
    ):
        pin_model(
            empty_ws, "n", PinOptions(source="ollama", host=ollama.host, model="all-minilm:v2", serving=FAST)
        )
    assert empty_ws.table_names(include_internal=True) == []
