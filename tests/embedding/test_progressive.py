"""Progressive columns: filled batch by batch by priority, resumed, completed into a whole column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_corpus
from tests.progressive_helpers import small_progressive_ws
from workbench.contract import candidate_tag
from workbench.demo import DEMO_TABLE, NEW_MODEL
from workbench.embedding.ingest import ingest
from workbench.embedding.progressive import embed_progressive, priority_order
from workbench.embedding.run import embed
from workbench.errors import InvalidArgumentError, LifecycleError
from workbench.production.promote import check_gate, promote
from workbench.retrieval.search import check_fresh
from workbench.store.progressive import coverage
from workbench.store.query_log import QueryLog, returned_counts
from workbench.store.status import table_status
from workbench.store.workspace import Workspace, vector_columns


@pytest.fixture
def small_ws(demo_template: Path, tmp_path: Path) -> Workspace:
    return small_progressive_ws(demo_template, tmp_path / "ws", rows=60)


def _column(ws: Workspace):
    new = ws.model(NEW_MODEL)
    return next(c for c in vector_columns(ws.table(DEMO_TABLE)) if c.name == new.column)


def _vectors(ws: Workspace, version: int | None = None) -> dict[str, np.ndarray | None]:
    new = ws.model(NEW_MODEL)
    data = ws.dataset(DEMO_TABLE, version=version).to_table(columns=["id", new.column])
    return dict(zip(data.column("id").to_pylist(), data.column(new.column).to_pylist(), strict=True))


@pytest.mark.slow
def test_a_budgeted_run_commits_one_version_per_batch_and_the_rest_stays_null(small_ws, new_embedder) -> None:
    ref = small_ws.model(NEW_MODEL)
    before = small_ws.table(DEMO_TABLE).version
    result = embed_progressive(
        small_ws, DEMO_TABLE, ref, embedder=new_embedder, budget_rows=25, batch_size=10
    )
    assert (result.rows_embedded, result.batches, result.embedded, result.total) == (25, 3, 25, 60)
    assert not result.complete and result.stopped_by == "budget"
    # the empty column, three batches, the coverage marker
    assert result.version == before + 5
    column = _column(small_ws)
    assert column.is_progressive and column.progressive["embedded"] == 25
    assert coverage(small_ws.table(DEMO_TABLE), column).embedded == 25
    status = {c.name: c for c in table_status(small_ws.view(DEMO_TABLE)).columns}[ref.column]
    assert status.progressive and (status.embedded_rows, status.missing_rows, status.stale_rows) == (
        25,
        35,
        0,
    )
    # each batch is its own version, and coverage only grows
    counts = [
        sum(v is not None for v in _vectors(small_ws, version).values())
        for version in range(before + 2, result.version + 1)
    ]
    assert counts == sorted(counts) and counts[:3] == [10, 20, 25]


@pytest.mark.slow
def test_resume_then_complete_makes_a_whole_column_with_the_models_own_vectors(
    small_ws, new_embedder
) -> None:
    ref = small_ws.model(NEW_MODEL)
    embed_progressive(small_ws, DEMO_TABLE, ref, embedder=new_embedder, budget_rows=20, batch_size=20)
    first = {k: v for k, v in _vectors(small_ws).items() if v is not None}
    result = embed(small_ws, DEMO_TABLE, ref, embedder=new_embedder, batch_size=32)
    assert result.created and result.tag == candidate_tag(ref.column)
    column = _column(small_ws)
    assert not column.is_progressive
    final = _vectors(small_ws)
    assert all(v is not None for v in final.values())
    assert all(np.array_equal(first[k], final[k]) for k in first)  # never embedded twice
    table = small_ws.table(DEMO_TABLE)
    assert table.tags.get_version(candidate_tag(ref.column)) == table.version
    texts = table.to_lance().to_table(columns=["id", "title", "text"]).to_pylist()
    expected = new_embedder.encode_documents([f"{r['title']}\n{r['text']}".strip() for r in texts[:3]])
    got = np.array([final[r["id"]] for r in texts[:3]])
    assert np.allclose(got, expected, atol=1e-5)
    assert not check_fresh(table, [column])  # an ordinary whole column now


@pytest.mark.slow
def test_promote_and_gate_refuse_a_progressive_column_compare_accepts_it(small_ws, new_embedder) -> None:
    ref = small_ws.model(NEW_MODEL)
    embed_progressive(small_ws, DEMO_TABLE, ref, embedder=new_embedder, budget_rows=0)
    column = _column(small_ws)
    assert column.is_progressive and coverage(small_ws.table(DEMO_TABLE), column).embedded == 0
    with pytest.raises(LifecycleError, match=r"progressive column .* transition mode"):
        promote(small_ws, DEMO_TABLE, NEW_MODEL, force=True, reason="try")
    with pytest.raises(LifecycleError, match=r"cannot gate .* progressive"):
        check_gate(small_ws, DEMO_TABLE, NEW_MODEL, comparison="whatever")
    notes = check_fresh(small_ws.table(DEMO_TABLE), [column])
    assert notes == [
        f"column {column.name} is progressive: 0 of 60 rows embedded (0.0% coverage); it ranks only those rows"
    ]


@pytest.mark.slow
def test_dual_write_fills_new_documents_of_a_progressive_column_at_once(
    small_ws, embedders, new_embedder, tmp_path: Path
) -> None:
    ref = small_ws.model(NEW_MODEL)
    embed_progressive(small_ws, DEMO_TABLE, ref, embedder=new_embedder, budget_rows=0)
    corpus = write_corpus(
        tmp_path / "more.jsonl", {"zz-new": ("Fresh", "A document ingested mid-migration.")}
    )
    ingest(small_ws, corpus, table=DEMO_TABLE, embedders=embedders)
    vectors = _vectors(small_ws)
    assert vectors["zz-new"] is not None
    assert sum(v is not None for v in vectors.values()) == 1
    assert _column(small_ws).is_progressive


def test_priority_orders() -> None:
    ids = ["a", "b", "c", "d", "e"]
    positions = np.array([0, 1, 2, 3, 4])
    assert [ids[i] for i in priority_order(ids, positions, "new-first")] == ["e", "d", "c", "b", "a"]
    by_log = priority_order(ids, positions, "query-log", counts={"c": 2.0, "a": 0.5})
    assert [ids[i] for i in by_log][:2] == ["c", "a"]
    shuffled = [ids[i] for i in priority_order(ids, positions, "random", seed=3)]
    assert sorted(shuffled) == ids
    # the random order is the same on a resume with fewer rows left
    rest = [d for d in shuffled if d != shuffled[0]]
    assert [rest[i] for i in priority_order(rest, positions[:4], "random", seed=3)] == rest
    with pytest.raises(InvalidArgumentError, match="unknown priority 'oldest'"):
        priority_order(ids, positions, "oldest")


def test_the_query_log_records_returned_ids_and_counts_them_by_rank(empty_ws: Workspace) -> None:
    log = QueryLog(empty_ws, text="none")
    log.record("demo", query="q", version=1, column="c", scores=[0.9, 0.8], ids=["d1", "d2"])
    log.record("demo", query="r", version=1, column="c", scores=[0.9], ids=["d2"])
    log.record("demo", query="s", version=1, column="c", scores=[0.5])  # no ids: counts nothing
    log.flush()
    assert returned_counts(empty_ws, "demo") == {"d1": 1.0, "d2": 1.5}


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"priority": "oldest"}, "unknown priority 'oldest'"),
        ({"budget_rows": -1}, "--budget must be 0 or more"),
        ({"budget_usd": 1.0}, "--budget-usd needs a served model with a price"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(demo_ws: Workspace, options, match) -> None:
    before = demo_ws.table(DEMO_TABLE).version
    with pytest.raises(InvalidArgumentError, match=match):
        embed_progressive(demo_ws, DEMO_TABLE, demo_ws.model(NEW_MODEL), **options)
    assert demo_ws.table(DEMO_TABLE).version == before
