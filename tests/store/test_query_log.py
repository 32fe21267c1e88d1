"""The production query log: opt-in, sampled, size-bounded, text kept plain, hashed or not at all."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from workbench.contract import QUERY_LOG_TABLE
from workbench.errors import InvalidArgumentError
from workbench.store.query_log import QueryLog, read_query_log
from workbench.store.workspace import Workspace

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _ticking(start: datetime = T0):
    moments = iter(start + timedelta(seconds=i) for i in range(1_000_000))
    return lambda: next(moments)


def _offer(log: QueryLog, n: int, *, prefix: str = "q") -> int:
    return sum(
        log.record("demo", query=f"{prefix}{i}", version=4, column="vec__m__00000000", scores=[0.9, 0.5])
        for i in range(n)
    )


def test_rows_are_buffered_and_written_in_batches(empty_ws: Workspace) -> None:
    log = QueryLog(empty_ws, flush_every=10, text="plain", clock=_ticking())
    assert _offer(log, 9) == 9 and not empty_ws.has_table(QUERY_LOG_TABLE)  # nothing written per query
    _offer(log, 1)
    table = empty_ws.db.open_table(QUERY_LOG_TABLE)
    assert table.count_rows() == 10 and len(table.list_versions()) == 1
    with log:
        _offer(log, 3, prefix="r")
    assert empty_ws.db.open_table(QUERY_LOG_TABLE).count_rows() == 13
    data = read_query_log(empty_ws, "demo", limit=100)
    assert (
        data.column("query").to_pylist()[:2] == ["q0", "q1"] and data.column("query").to_pylist()[-1] == "r2"
    )
    assert data.column("scores").to_pylist()[0] == pytest.approx([0.9, 0.5])
    assert set(data.column("version").to_pylist()) == {4}


@pytest.mark.parametrize(
    ("mode", "query", "digest"),
    [
        ("plain", "rice", hashlib.sha256(b"rice").hexdigest()),
        ("hashed", None, hashlib.sha256(b"rice").hexdigest()),
        ("none", None, None),
    ],
)
def test_text_is_kept_as_asked(empty_ws: Workspace, mode: str, query: str | None, digest: str | None) -> None:
    with QueryLog(empty_ws, text=mode) as log:  # type: ignore[arg-type]
        log.record("demo", query="rice", version=1, column="c", scores=[0.5])
    row = read_query_log(empty_ws, "demo").to_pylist()[0]
    assert (row["query"], row["query_sha256"]) == (query, digest)


def test_sampling_keeps_about_the_rate(empty_ws: Workspace) -> None:
    with QueryLog(empty_ws, sample_rate=0.2, seed=3, flush_every=10_000) as log:
        kept = _offer(log, 2000)
    assert 330 <= kept <= 470  # binomial(2000, 0.2): mean 400, sd 18
    assert empty_ws.db.open_table(QUERY_LOG_TABLE).count_rows() == kept


def test_size_bound_drops_the_oldest(empty_ws: Workspace) -> None:
    log = QueryLog(empty_ws, max_rows=25, flush_every=10, text="plain", clock=_ticking())
    _offer(log, 100)
    log.flush()
    data = read_query_log(empty_ws, "demo", limit=1000)
    assert data.num_rows == 25
    assert data.column("query").to_pylist() == [f"q{i}" for i in range(75, 100)]


def test_read_filters_by_table_column_and_time_and_samples(empty_ws: Workspace) -> None:
    with QueryLog(empty_ws, text="plain", clock=_ticking(), flush_every=10_000) as log:
        _offer(log, 50)
        log.record("other", query="x", version=1, column="vec__m__00000000", scores=[0.1])
        log.record("demo", query="y", version=1, column="vec__n__11111111", scores=[0.1])
    assert read_query_log(empty_ws, "demo", limit=1000).num_rows == 51
    assert read_query_log(empty_ws, "demo", column="vec__m__00000000", limit=1000).num_rows == 50
    assert read_query_log(empty_ws, "demo", since=T0 + timedelta(seconds=40), limit=1000).num_rows == 11
    sample = read_query_log(empty_ws, "demo", limit=10, seed=1)
    again = read_query_log(empty_ws, "demo", limit=10, seed=1)
    assert sample.num_rows == 10 and sample.equals(again)
    assert read_query_log(empty_ws, "absent", limit=5).num_rows == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sample_rate": 0}, r"sample_rate must be in \(0, 1\], got 0"),
        ({"sample_rate": 1.5}, r"sample_rate must be in \(0, 1\], got 1.5"),
        ({"max_rows": 0}, r"max_rows and flush_every must be at least 1"),
        ({"text": "encrypted"}, r"text must be one of plain, hashed, none, got 'encrypted'"),
    ],
)
def test_bad_options(empty_ws: Workspace, options: dict, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        QueryLog(empty_ws, **options)
    assert not empty_ws.has_table(QUERY_LOG_TABLE)


def test_bad_read_limit(empty_ws: Workspace) -> None:
    with pytest.raises(InvalidArgumentError, match=r"limit must be at least 1, got 0"):
        read_query_log(empty_ws, "demo", limit=0)
