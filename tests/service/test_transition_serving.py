"""Progressive migration over HTTP: `rollout progressive` makes the service answer by transition search."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.progressive_helpers import small_progressive_ws
from tests.service.helpers import running, wait_for
from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.embedding.progressive import embed_progressive
from workbench.production.rollout import abort_rollout, start_progressive
from workbench.production.transition import TransitionIndex

pytestmark = pytest.mark.slow  # a real server, both models

QUERY = "how do I undo a bad model release?"


def test_transition_answers_equal_the_library_and_follow_the_filling_column(
    demo_template: Path, tmp_path: Path, new_embedder, old_embedder
) -> None:
    ws = small_progressive_ws(demo_template, tmp_path / "ws", rows=80)
    new, old = ws.model(NEW_MODEL), ws.model(OLD_MODEL)
    embed_progressive(ws, DEMO_TABLE, new, embedder=new_embedder, budget_rows=40, batch_size=40)
    step = start_progressive(ws, DEMO_TABLE, NEW_MODEL, merge="rrf")
    assert (step.action, step.candidate, step.merge) == ("progressive", new.column, "rrf")
    with running(ws) as (client, _):
        wait_for(
            lambda: client.post("/search", json={"query": QUERY}).json()["served_by"] == "transition",
            "transition",
        )
        body = client.post("/search", json={"query": QUERY, "k": 8}).json()
        expected = TransitionIndex.open(
            ws, DEMO_TABLE, new.column, embedders={new.column: new_embedder, old.column: old_embedder}
        ).search(QUERY, k=8)
        filtered = client.post("/search", json={"query": QUERY, "filter": "id != 'x'"})
        metrics = client.get("/metrics").text
        embed_progressive(ws, DEMO_TABLE, new, embedder=new_embedder, budget_rows=20, batch_size=20)
        wait_for(lambda: client.get("/production").json()["rollout"]["coverage"] == 0.75, "the grown column")
        abort_rollout(ws, DEMO_TABLE)
        wait_for(
            lambda: client.post("/search", json={"query": QUERY}).json()["served_by"] == "production", "abort"
        )
    assert [r["id"] for r in body["results"]] == [h.id for h in expected.hits]
    assert [r["column"] for r in body["results"]] == [h.column for h in expected.hits]
    assert {r["column"] for r in body["results"]} == {new.column, old.column}  # both models answer
    assert body["coverage"] == pytest.approx(0.5) and len({r["id"] for r in body["results"]}) == 8
    assert filtered.status_code == 400 and "transition mode" in filtered.json()["error"]
    assert "workbench_transition_new_share_count" in metrics and 'served_by="transition"' in metrics
