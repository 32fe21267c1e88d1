"""kill -9 during a progressive run: at every step boundary, at every commit, at random moments.

Each run is the real CLI in a subprocess. After every kill: the rerun resumes and completes the
column; coverage never goes down; a row once embedded keeps exactly its vector; and a reader
looping over the latest version meanwhile never sees a vector that is not the pinned model's
vector of that row's text.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.servers import mini_demo
from workbench.contract import document_text
from workbench.embedding.ingest import ingest
from workbench.killpoints import ENV, PROGRESSIVE_STEPS
from workbench.store.workspace import Workspace, open_workspace, vector_columns

pytestmark = pytest.mark.slow

MODEL = "minilm-l3"
TABLE = "mini"
N_DOCS, BATCH = 24, 8


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("progressive-kill")
    ws = open_workspace(root / "ws")
    ingest(ws, mini_demo(root / "mini", n_docs=N_DOCS), table=TABLE)
    return root / "ws"


@pytest.fixture(scope="module")
def reference(base: Path, old_embedder) -> dict[str, np.ndarray]:
    """The pinned model's vector of each row's text: the only vector a row may ever show."""
    rows = open_workspace(base).dataset(TABLE).to_table(columns=["id", "title", "text"]).to_pylist()
    vectors = old_embedder.encode_documents([document_text(r["title"] or "", r["text"]) for r in rows])
    return {r["id"]: v for r, v in zip(rows, vectors, strict=True)}


def _cli(ws: Path, *, kill_at: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop(ENV, None)
    if kill_at is not None:
        env[ENV] = kill_at
    command = [sys.executable, "-m", "workbench.cli", "embed", "--model", MODEL, "--progressive"]
    command += ["--batch-size", str(BATCH), "-w", str(ws), "-t", TABLE]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _state(ws: Workspace) -> tuple[dict[str, np.ndarray | None], bool]:
    """Each row's vector (None: not embedded) and whether the column is still progressive."""
    column = open_workspace(ws.uri).model(MODEL).column
    dataset = open_workspace(ws.uri).dataset(TABLE)
    if column not in dataset.schema.names:
        return {}, True
    data = dataset.to_table(columns=["id", column])
    found = {
        i: (np.asarray(v, dtype=np.float32) if v is not None else None)
        for i, v in zip(data.column("id").to_pylist(), data.column(column).to_pylist(), strict=True)
    }
    table = open_workspace(ws.uri).view(TABLE)
    progressive = any(c.name == column and c.is_progressive for c in vector_columns(table))
    return found, progressive


class Watcher:
    """Checks every observed state: the model's own vectors, never changed, coverage never down."""

    def __init__(self, ws: Workspace, reference: dict[str, np.ndarray]) -> None:
        self.ws, self.reference = ws, reference
        self.seen: dict[str, np.ndarray] = {}
        self.coverage = 0
        self.problems: list[str] = []

    def check(self) -> int:
        vectors, _ = _state(self.ws)
        embedded = {k: v for k, v in vectors.items() if v is not None}
        if len(embedded) < self.coverage:
            self.problems.append(f"coverage went down: {self.coverage} → {len(embedded)}")
        self.coverage = max(self.coverage, len(embedded))
        for doc, vector in embedded.items():
            if not np.allclose(vector, self.reference[doc], atol=1e-4):
                self.problems.append(f"{doc}: a vector that is not the pinned model's")
            if doc in self.seen and not np.array_equal(self.seen[doc], vector):
                self.problems.append(f"{doc}: embedded twice with different vectors")
            self.seen.setdefault(doc, vector)
        return len(embedded)


def _reader(watcher: Watcher, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            watcher.check()
        except Exception as exc:  # a read that races a commit must still never show bad data
            if "not found" not in str(exc).lower():
                watcher.problems.append(f"reader failed: {exc!r}")
        time.sleep(0.05)


def _finish(ws_path: Path, watcher: Watcher) -> None:
    done = _cli(ws_path)
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err.decode()
    _, progressive = _state(watcher.ws)
    assert watcher.check() == N_DOCS and not progressive, out.decode()
    assert not watcher.problems, watcher.problems


@pytest.mark.parametrize("step", PROGRESSIVE_STEPS)
def test_killed_at_a_step_boundary_the_rerun_completes(
    base: Path, reference, tmp_path: Path, step: str
) -> None:
    ws_path = tmp_path / "ws"
    shutil.copytree(base, ws_path)
    watcher = Watcher(open_workspace(ws_path), reference)
    killed = _cli(ws_path, kill_at=step)
    killed.communicate(timeout=600)
    assert killed.returncode == -signal.SIGKILL
    watcher.check()
    _finish(ws_path, watcher)


def test_killed_after_every_commit_each_rerun_adds_one_batch_while_a_reader_watches(
    base: Path, reference, tmp_path: Path
) -> None:
    ws_path = tmp_path / "ws"
    shutil.copytree(base, ws_path)
    watcher = Watcher(open_workspace(ws_path), reference)
    stop = threading.Event()
    looping = Watcher(open_workspace(ws_path), reference)
    reader = threading.Thread(target=_reader, args=(looping, stop), daemon=True)
    reader.start()
    coverages = []
    for _ in range(N_DOCS // BATCH):
        run = _cli(ws_path, kill_at="progressive:committed")
        run.communicate(timeout=600)
        assert run.returncode == -signal.SIGKILL
        coverages.append(watcher.check())
    assert coverages == [BATCH * (i + 1) for i in range(N_DOCS // BATCH)]
    _finish(ws_path, watcher)
    stop.set()
    reader.join(timeout=30)
    assert looping.coverage == N_DOCS and not looping.problems, looping.problems


def test_killed_at_random_moments_the_rerun_completes(base: Path, reference, tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    shutil.copytree(base, ws_path)
    watcher = Watcher(open_workspace(ws_path), reference)
    rng = random.Random(24)
    for _ in range(2):
        run = _cli(ws_path)
        deadline = time.monotonic() + rng.uniform(3.0, 12.0)
        while run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if run.poll() is None:
            os.kill(run.pid, signal.SIGKILL)  # only the process this test started
        run.communicate(timeout=60)
        watcher.check()
    _finish(ws_path, watcher)
