"""Canary and shadow on live HTTP traffic; swaps under load; a production that fails its canaries."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_collection
from tests.service.helpers import running, wait_for
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.models.catalog import CATALOG
from workbench.production.rollout import abort_rollout, in_canary, start_canary, start_shadow
from workbench.production.shadow import agreement, read_shadow_log, shadow_report
from workbench.store.workspace import Workspace

pytestmark = pytest.mark.slow  # real servers, real models

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
QUERY = "how do I undo a bad model release?"


def test_canary_answers_its_share_sticky_by_user_and_abort_returns_all(demo_ws: Workspace, embedders) -> None:
    with running(demo_ws) as (client, _):
        start_canary(demo_ws, "demo", NEW, percent=30, embedder=embedders[NEW])
        wait_for(lambda: client.get("/production").json()["rollout"] is not None, "the canary")
        users = [f"user-{i}" for i in range(120)]
        columns = {}
        for user in users:
            body = client.post("/search", json={"query": QUERY, "k": 3}, headers={"X-User-Id": user}).json()
            assert (body["column"] == NEW) == (body["served_by"] == "canary") == in_canary(user, 30)
            columns[user] = body["column"]
        again = [
            client.post("/search", json={"query": QUERY, "k": 3, "user": u}).json()["column"] for u in users
        ]
        anonymous = client.post("/search", json={"query": QUERY}).json()
        metrics = client.get("/metrics").text
        abort_rollout(demo_ws, "demo")
        wait_for(lambda: client.get("/production").json()["rollout"] is None, "the abort")
        after = {
            client.post("/search", json={"query": QUERY}, headers={"X-User-Id": u}).json()["column"]
            for u in users
        }
    assert again == [columns[u] for u in users]
    assert 0 < sum(c == NEW for c in columns.values()) < len(users)
    assert anonymous["served_by"] == "production"  # no key: production
    assert "workbench_rollout_percent 30.0" in metrics
    assert f'workbench_search_seconds_count{{column="{NEW}",served_by="canary"}}' in metrics
    assert after == {OLD}


@pytest.fixture(scope="module")
def scifact_pair(tmp_path_factory: pytest.TempPathFactory, embedders) -> tuple[Path, list[str]]:
    """A SciFact slice (400 documents) with both demo models' columns, production = the old one."""
    from workbench.embedding.ingest import ingest
    from workbench.embedding.run import embed
    from workbench.production.promote import promote
    from workbench.store.workspace import open_workspace

    source = shared_collection("scifact")
    root = tmp_path_factory.mktemp("scifact-shadow")
    lines = (source / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:400]
    (root / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    queries = [json.loads(line)["text"] for line in (source / "queries.jsonl").read_text().splitlines()[:40]]
    ws = open_workspace(root / "ws")
    ingest(ws, root / "corpus.jsonl", table="scifact")
    for model, column in ((OLD_MODEL, OLD), (NEW_MODEL, NEW)):
        embed(ws, "scifact", CATALOG[model], embedder=embedders[column])
    promote(ws, "scifact", OLD, initial=True)
    return root / "ws", queries


def test_shadow_overlap_per_query_equals_an_independent_computation(
    scifact_pair: tuple[Path, list[str]], tmp_path: Path, embedders
) -> None:
    from workbench.retrieval.exact import exact_search, read_vectors
    from workbench.store.workspace import open_workspace

    shutil.copytree(scifact_pair[0], tmp_path / "ws")
    ws, queries = open_workspace(tmp_path / "ws"), scifact_pair[1]
    start_shadow(ws, "scifact", NEW, sample=1.0, embedder=embedders[NEW])
    with running(ws, shadow_text="plain") as (client, state):
        wait_for(lambda: client.get("/production").json()["rollout"] is not None, "the shadow")
        for start in range(0, len(queries), 20):
            client.post("/search/batch", json={"queries": queries[start : start + 20], "k": 10})
        state.shadow.drain()
        metrics = client.get("/metrics").text
    rows = read_shadow_log(ws, "scifact").to_pylist()
    assert len(rows) == len(queries) and 'workbench_shadow_queries_total{outcome="recorded"} 40.0' in metrics
    table = ws.table("scifact")
    tops = {}
    for column in (OLD, NEW):
        ids, matrix = read_vectors(table, column)
        vectors = embedders[column].encode_queries(queries)
        found = exact_search(ids, matrix, vectors, [str(i) for i in range(len(queries))], k=10)
        tops[column] = [found[found["query_id"] == str(i)]["doc_id"].tolist() for i in range(len(queries))]
    by_query = {row["query"]: row for row in rows}
    for i, query in enumerate(queries):
        row = by_query[query]
        expected = agreement(tops[OLD][i], tops[NEW][i], 10)
        assert row["overlap"] == pytest.approx(expected["overlap"]), query
        assert row["production_ids"] == tops[OLD][i] and row["candidate_ids"] == tops[NEW][i]
    report = shadow_report(ws, "scifact")
    mean = np.mean([r["overlap"] for r in rows])
    assert report.queries == 40 and report.agreement["overlap"]["mean"] == pytest.approx(mean)
    assert report.agreement["overlap"]["ci_low"] <= mean <= report.agreement["overlap"]["ci_high"]


def test_swaps_under_load_fail_no_request_and_never_mix_columns(
    compared_ws: Workspace, comparison_id: str
) -> None:
    script = (
        "import sys\n"
        "from workbench.store.workspace import open_workspace\n"
        "from workbench.production.promote import promote, rollback\n"
        "ws = open_workspace(sys.argv[1])\n"
        "for i in range(10):\n"
        f"    promote(ws, 'demo', {NEW!r}, comparison={comparison_id!r}); print('moved', flush=True)\n"
        "    rollback(ws, 'demo'); print('moved', flush=True)\n"
    )
    from workbench.models.loading import load_embedder
    from workbench.retrieval.exact import exact_search, read_vectors

    expected = {}
    for column in (OLD, NEW):
        ids, matrix = read_vectors(compared_ws.table("demo"), column)
        model = load_embedder(CATALOG[OLD_MODEL if column == OLD else NEW_MODEL])
        found = exact_search(ids, matrix, model.encode_queries([QUERY]), ["q"], k=5)
        expected[column] = found["doc_id"].tolist()
    assert expected[OLD] != expected[NEW]
    with running(compared_ws, follow_interval=0.1) as (client, state):
        answers, failures, stop = [], [], threading.Event()

        def load() -> None:
            while not stop.is_set():
                response = client.post("/search", json={"query": QUERY, "k": 5})
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    answers.append(response.json())

        worker = threading.Thread(target=load)
        worker.start()
        mover = subprocess.run(
            [sys.executable, "-c", script, str(compared_ws.uri)], capture_output=True, text=True, timeout=900
        )
        wait_for(lambda: state.follower.current.production.column.name == OLD, "the last rollback")
        stop.set()
        worker.join()
        swaps = [s for s in state.follower.swaps if s.kind == "production"]
    assert mover.returncode == 0, mover.stderr
    assert mover.stdout.count("moved") == 20
    assert failures == []
    assert len(answers) > 20
    assert {a["column"] for a in answers} <= {OLD, NEW}
    for answer in answers:  # every answer comes from exactly the one column it names
        assert [r["id"] for r in answer["results"]] == expected[answer["column"]]
    assert {a["column"] for a in answers} == {OLD, NEW}
    assert all(s.ok for s in swaps) and len(swaps) >= 2


def test_a_production_whose_canaries_fail_is_never_served(proxy, tmp_path: Path, embedders) -> None:
    from tests.servers import SERVED_NAME, mini_demo
    from workbench.embedding.ingest import ingest
    from workbench.embedding.run import embed
    from workbench.models.pin_options import PinOptions
    from workbench.models.ref import ServingOptions
    from workbench.production.promote import promote
    from workbench.store.pins import pin_model
    from workbench.store.workspace import open_workspace

    proxy.reset()
    ws = open_workspace(tmp_path / "ws")
    ingest(ws, mini_demo(tmp_path / "mini", n_docs=24), table="mini")
    embed(ws, "mini", CATALOG[OLD_MODEL], embedder=embedders[OLD])
    serving = ServingOptions(batch_size=8, concurrency=1, max_retries=0, timeout=30)
    ref, _ = pin_model(
        ws, "e5", PinOptions(source="openai", base_url=proxy.base_url, model=SERVED_NAME, serving=serving)
    )
    embed(ws, "mini", ref)
    promote(ws, "mini", OLD, initial=True)
    with running(ws) as (client, state):
        proxy.new_weights_after = proxy.requests  # the provider swaps the weights behind the name now
        promote(ws, "mini", ref.column, force=True, reason="test: the gate is not the point here")
        wait_for(lambda: state.follower.problem is not None, "the failed validation")
        answer = client.post("/search", json={"query": "model release"}).json()
        ready = client.get("/ready").json()
        metrics = client.get("/metrics").text
    proxy.reset()
    assert answer["column"] == OLD
    assert ready["ready"] and not ready["swap_ready"] and "canary" in ready["problem"]
    assert "workbench_swap_ready 0.0" in metrics
    assert 'workbench_canary_checks_total{result="failed"} 1.0' in metrics
