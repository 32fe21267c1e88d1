"""Shared fixtures: real models (loaded once), a real demo workspace (built once, copied per test)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from workbench.demo import NEW_MODEL, OLD_MODEL, build_demo
from workbench.models import SentenceTransformerEmbedder, load_embedder
from workbench.packaged import CATALOG
from workbench.workspace import Workspace, open_workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("WORKBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_collection(name: str) -> Path:
    """A BEIR collection from ../shared/data, or skip the test cleanly when it is absent."""
    path = SHARED_DATA / name
    if not (path / "corpus.jsonl").is_file():
        pytest.skip(f"{path} is absent (the shared IR collections are not on this machine)")
    return path


@pytest.fixture(scope="session")
def embedders() -> dict[str, SentenceTransformerEmbedder]:
    """The two real catalog models, loaded and verified once, keyed by their column name."""
    loaded = {}
    for alias in (OLD_MODEL, NEW_MODEL):
        ref = CATALOG[alias]
        loaded[ref.column] = load_embedder(ref)
    return loaded


@pytest.fixture(scope="session")
def old_embedder(embedders: dict[str, SentenceTransformerEmbedder]) -> SentenceTransformerEmbedder:
    return embedders[CATALOG[OLD_MODEL].column]


@pytest.fixture(scope="session")
def new_embedder(embedders: dict[str, SentenceTransformerEmbedder]) -> SentenceTransformerEmbedder:
    return embedders[CATALOG[NEW_MODEL].column]


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace, built once per test session with the real models."""
    path = tmp_path_factory.mktemp("demo-template") / "ws"
    build_demo(open_workspace(path))
    return path


@pytest.fixture
def demo_ws(demo_template: Path, tmp_path: Path) -> Workspace:
    """A private copy of the demo workspace for one test."""
    target = tmp_path / "demo-ws"
    shutil.copytree(demo_template, target)
    return open_workspace(target)


@pytest.fixture
def empty_ws(tmp_path: Path) -> Workspace:
    """A new, empty local workspace."""
    return open_workspace(tmp_path / "ws")
