"""``workbench serve`` over real HTTP: answers equal ProductionIndex, auth, limits, readiness, metrics."""

from __future__ import annotations

import logging

import pytest

from tests.service.helpers import running, wait_for
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.models.catalog import CATALOG
from workbench.production.promote import promote, rollback
from workbench.production.serving import ProductionIndex
from workbench.store.workspace import Workspace

pytestmark = pytest.mark.slow  # each test starts a real server and loads a model

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
QUERY = "how do I undo a bad model release?"


def test_search_answers_equal_production_index_in_process(demo_ws: Workspace, embedders) -> None:
    expected = ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD]).search(QUERY, k=7)
    with running(demo_ws) as (client, _):
        body = client.post("/search", json={"query": QUERY, "k": 7}).json()
        batch = client.post("/search/batch", json={"queries": [QUERY, "vector index"], "k": 3}).json()
    assert [r["id"] for r in body["results"]] == [h.id for h in expected.hits]
    assert [r["score"] for r in body["results"]] == pytest.approx([h.score for h in expected.hits], abs=1e-6)
    assert (body["column"], body["model"], body["version"]) == (OLD, expected.model, expected.version)
    assert body["served_by"] == "production" and body["index"] == "exact"
    assert [r["id"] for r in batch["results"][0]["results"]] == [h.id for h in expected.hits[:3]]
    assert len(batch["results"]) == 2 and batch["results"][1]["query"] == "vector index"


def test_filter_is_applied_before_the_vector_search(demo_ws: Workspace) -> None:
    with running(demo_ws) as (client, _):
        all_ids = [r["id"] for r in client.post("/search", json={"query": QUERY, "k": 5}).json()["results"]]
        kept = client.post("/search", json={"query": QUERY, "k": 5, "filter": f"id != '{all_ids[0]}'"}).json()
        broken = client.post("/search", json={"query": QUERY, "filter": "no_such_column = 1"})
    assert all_ids[0] not in [r["id"] for r in kept["results"]]
    assert [r["id"] for r in kept["results"]][:4] == all_ids[1:5]
    assert broken.status_code == 400 and "filter" in broken.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"query": ""}, 400, "empty"),
        ({"query": "   "}, 400, "empty"),
        ({"query": QUERY, "k": 0}, 400, "k must be between 1 and 100"),
        ({"query": QUERY, "k": 1_000_000}, 400, "k must be between 1 and 100"),
        ({"query": 42}, 422, "query"),
        ({"query": QUERY, "k": "10"}, 422, "k"),
        ({"queries": "not a list"}, 422, "query"),
        ({"query": QUERY, "unknown": 1}, 422, "unknown"),
        ([1, 2], 422, "body"),
    ],
)
def test_bad_input_gets_a_4xx_json_error(demo_ws: Workspace, body: object, status: int, says: str) -> None:
    with running(demo_ws) as (client, _):
        response = client.post("/search", json=body)
    assert response.status_code == status
    assert says in response.json()["error"]
    assert "Traceback" not in response.text


def test_batch_and_body_limits(demo_ws: Workspace) -> None:
    with running(demo_ws, max_batch=4, max_body_bytes=10_000) as (client, _):
        too_many = client.post("/search/batch", json={"queries": [QUERY] * 5})
        huge = client.post("/search", content=b'{"query": "' + b"x" * 10_000_000 + b'"}')
        chunked = client.post("/search", content=iter([b'{"query": "', b"y" * 20_000, b'"}']))
        not_json = client.post("/search", content=b"{nope", headers={"content-type": "application/json"})
    assert too_many.status_code == 400 and "at most 4 queries" in too_many.json()["error"]
    assert huge.status_code == 413 and "larger than 10000 bytes" in huge.json()["error"]
    assert chunked.status_code == 413
    assert not_json.status_code == 422 and "error" in not_json.json()


def test_bearer_token_is_required_and_never_logged(
    demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-token-value-123"
    monkeypatch.setenv("WB_TEST_TOKEN", secret)
    caplog.set_level(logging.DEBUG)
    with running(demo_ws, token_env="WB_TEST_TOKEN") as (client, _):
        missing = client.post("/search", json={"query": QUERY})
        wrong = client.post("/search", json={"query": QUERY}, headers={"Authorization": "Bearer nope"})
        metrics = client.get("/metrics")
        good = client.post("/search", json={"query": QUERY}, headers={"Authorization": f"Bearer {secret}"})
        health, ready = client.get("/health"), client.get("/ready")
    assert missing.status_code == wrong.status_code == metrics.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert good.status_code == 200 and good.json()["results"]
    assert health.status_code == ready.status_code == 200
    assert secret not in caplog.text


def test_unset_token_variable_is_refused_before_serving(demo_ws: Workspace) -> None:
    from workbench.errors import InvalidArgumentError
    from workbench.service.settings import ServiceSettings

    with pytest.raises(InvalidArgumentError, match=r"WB_NOT_SET.*not set"):
        ServiceSettings(workspace=str(demo_ws.uri), token_env="WB_NOT_SET").token()


def test_ready_production_and_metrics_describe_what_is_served(demo_ws: Workspace) -> None:
    with running(demo_ws) as (client, _):
        client.post("/search", json={"query": QUERY})
        ready = client.get("/ready").json()
        served = client.get("/production").json()
        metrics = client.get("/metrics").text
        docs = client.get("/openapi.json").json()
    assert ready["ready"] and ready["swap_ready"] and ready["production"]["column"] == OLD
    assert ready["production"]["canaries"]["passed"] and ready["production"]["canaries"]["min_cosine"] > 0.99
    assert ready["production"]["index_coverage"] is None  # exact search: the demo has no ANN index
    assert served["production"]["version"] == ready["production"]["version"] and served["rollout"] is None
    assert served["swaps"][0]["ok"] and served["swaps"][0]["kind"] == "production"
    assert f'workbench_search_seconds_count{{column="{OLD}",served_by="production"}} 1.0' in metrics
    assert 'workbench_requests_total{endpoint="/search",status="200"} 1.0' in metrics
    assert "workbench_swap_ready 1.0" in metrics
    assert {"/search", "/search/batch", "/ready", "/metrics"} <= set(docs["paths"])


def test_not_ready_without_production(empty_ws: Workspace, tmp_path) -> None:
    from tests.conftest import write_corpus
    from workbench.embedding.ingest import ingest

    ingest(empty_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha text")}), table="t")
    with running(empty_ws, ready=False) as (client, state):
        wait_for(lambda: state.follower.checked_at is not None, "a first check")
        ready = client.get("/ready")
        search = client.post("/search", json={"query": QUERY})
    assert ready.status_code == 503 and "no production tag" in ready.json()["problem"]
    assert search.status_code == 503 and search.json()["error"].startswith("not ready")


def test_follows_a_promotion_and_a_rollback(compared_ws: Workspace, comparison_id: str) -> None:
    with running(compared_ws) as (client, state):
        assert client.post("/search", json={"query": QUERY}).json()["column"] == OLD
        first_model = state.follower.current.production.embedder
        promote(compared_ws, "demo", NEW, comparison=comparison_id)
        wait_for(
            lambda: client.post("/search", json={"query": QUERY}).json()["column"] == NEW, "the promotion"
        )
        rollback(compared_ws, "demo")
        wait_for(
            lambda: client.post("/search", json={"query": QUERY}).json()["column"] == OLD, "the rollback"
        )
        swaps = [s for s in state.follower.swaps if s.kind == "production"]
        rolled_back_model = state.follower.current.production.embedder
    assert rolled_back_model is first_model  # the rollback reused the verified model: nothing loaded
    assert [s.ok for s in swaps] == [True, True, True]
    assert swaps[1].after.endswith(NEW) and swaps[2].after.endswith(OLD)
