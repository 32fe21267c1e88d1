"""Both retrievers answer exactly what production answers, follow it, and refuse what it refuses."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.conftest import write_corpus
from tests.integrations.conftest import Framework
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.errors import InvalidArgumentError, LifecycleError
from workbench.models.catalog import CATALOG
from workbench.production.promote import promote, rollback
from workbench.production.serving import ProductionIndex, SearchResult
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
QUERY = "how do I undo a bad model release?"


def expected(result: SearchResult) -> list[tuple[str, float, str, dict[str, object]]]:
    """What a retriever must return for ``result``: ids, scores, order, text and provenance."""
    return [
        (
            hit.id,
            hit.score,
            hit.text,
            {
                "id": hit.id,
                "title": hit.title,
                "score": hit.score,
                "rank": hit.rank,
                "table": result.table,
                "version": result.version,
                "column": result.column,
                "model": result.model,
                "searched_with": result.index,
            },
        )
        for hit in result.hits
    ]


def answered(framework: Framework, retriever: object, query: str = QUERY) -> list[tuple]:
    return [(r.id, r.score, r.text, r.metadata) for r in framework.retrieve(retriever, query)]


def test_results_equal_production_index_search(framework: Framework, demo_ws: Workspace, embedders) -> None:
    retriever = framework.make(demo_ws, "demo", k=7, embedders=embedders)
    truth = ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD]).search(QUERY, k=7)
    assert len(truth.hits) == 7 and truth.column == OLD
    assert answered(framework, retriever) == expected(truth)


def test_a_workspace_path_opens_the_same_production(
    framework: Framework, demo_ws: Workspace, embedders
) -> None:
    retriever = framework.make(str(demo_ws.uri), k=3, embedders=embedders)  # the only table, by default
    truth = ProductionIndex.open(demo_ws, "demo", embedder=embedders[OLD]).search(QUERY, k=3)
    assert answered(framework, retriever) == expected(truth)


@pytest.mark.slow
def test_follows_a_promotion_and_a_rollback(
    framework: Framework, compared_ws: Workspace, comparison_id: str, embedders
) -> None:
    retriever = framework.make(compared_ws, "demo", k=5, follow_interval=0, embedders=embedders)
    first = answered(framework, retriever)
    assert {row[3]["column"] for row in first} == {OLD}
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    promoted = ProductionIndex.open(compared_ws, "demo", embedder=embedders[NEW]).search(QUERY, k=5)
    assert promoted.column == NEW
    assert answered(framework, retriever) == expected(promoted)
    rollback(compared_ws, "demo")
    assert answered(framework, retriever) == first


def test_a_query_while_nothing_is_in_production(
    framework: Framework, demo_ws: Workspace, tmp_path: Path
) -> None:
    ingest(demo_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha")}), table="fresh")
    retriever = framework.make(demo_ws, "fresh")  # an application may start before the first promotion
    with pytest.raises(
        LifecycleError, match=r"^table 'fresh' has no 'production' tag: .*--initial -t fresh`\.$"
    ):
        framework.retrieve(retriever, "alpha")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 0}, r"^k must be a positive integer, got 0; e\.g\. k=10$"),
        ({"follow_interval": -1}, r"^follow_interval must be a number of seconds >= 0, got -1"),
        ({"follow_interval": float("nan")}, r"^follow_interval must be a number of seconds >= 0"),
    ],
)
def test_bad_options_are_refused_when_built(
    framework: Framework, demo_ws: Workspace, embedders, options: dict, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        framework.make(demo_ws, "demo", embedders=embedders, **options)


def test_an_empty_query_is_refused(framework: Framework, demo_ws: Workspace, embedders) -> None:
    retriever = framework.make(demo_ws, "demo", embedders=embedders)
    with pytest.raises(InvalidArgumentError, match=r"the query is empty"):
        framework.retrieve(retriever, "  ")


@pytest.mark.slow
def test_concurrent_queries_each_come_from_one_column_while_production_moves(
    framework: Framework, compared_ws: Workspace, comparison_id: str, embedders
) -> None:
    retriever = framework.make(compared_ws, "demo", k=5, follow_interval=0, embedders=embedders)
    truth = {OLD: [row[0] for row in answered(framework, retriever)]}
    answers: list[list[tuple]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        for _ in range(400):  # bounded: stops by itself even if the main thread fails
            if stop.is_set():
                return
            try:
                answers.append(answered(framework, retriever))
            except BaseException as exc:
                errors.append(exc)
                return

    workers = [threading.Thread(target=ask) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for move, column in [("promote", NEW), ("rollback", OLD), ("promote", NEW)]:
            if move == "promote":
                promote(compared_ws, "demo", NEW, comparison=comparison_id)
            else:
                rollback(compared_ws, "demo")
            seen = [answered(framework, retriever)[0][3]["column"] for _ in range(50)]
            assert column in seen  # followed (a query may still end on the old index while one thread swaps)
            if column == NEW:
                truth[NEW] = ProductionIndex.open(compared_ws, "demo", embedder=embedders[NEW]).search(
                    QUERY, k=5
                )
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    assert errors == []
    new_ids = [hit.id for hit in truth[NEW].hits]
    assert new_ids != truth[OLD]
    for answer in answers:
        ((column, _version),) = {
            (row[3]["column"], row[3]["version"]) for row in answer
        }  # one index per answer
        assert [row[0] for row in answer] == (new_ids if column == NEW else truth[OLD])
    assert {row[3]["column"] for answer in answers for row in answer} >= {OLD}
