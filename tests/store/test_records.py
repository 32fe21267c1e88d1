"""Record tables: created on first write, filtered by equality without SQL text."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from workbench.store.records import append_records, read_records, upsert_records
from workbench.store.workspace import open_workspace

SCHEMA = pa.schema([pa.field("name", pa.string()), pa.field("n", pa.int64())])


def _rows(*pairs: tuple[str, int]) -> pa.Table:
    return pa.Table.from_pylist([{"name": a, "n": b} for a, b in pairs], schema=SCHEMA)


def test_read_of_a_missing_record_table_is_none(tmp_path: Path) -> None:
    assert read_records(open_workspace(tmp_path / "ws"), "wb_x") is None


def test_equality_filter_takes_any_text_literally(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws")
    append_records(ws, "wb_x", _rows(("o'brien", 1), ("plain", 2)))
    append_records(ws, "wb_x", _rows(("x' OR '1'='1", 3)))
    assert read_records(ws, "wb_x", equals={"name": "o'brien"}).to_pylist() == [{"name": "o'brien", "n": 1}]
    injected = read_records(ws, "wb_x", equals={"name": "x' OR '1'='1"})
    assert injected.column("n").to_pylist() == [3]  # the whole text is one value, not SQL
    assert read_records(ws, "wb_x").num_rows == 3


def test_upsert_replaces_by_key(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws")
    upsert_records(ws, "wb_x", _rows(("a", 1)), key="name")
    upsert_records(ws, "wb_x", _rows(("a", 5), ("b", 2)), key="name")
    assert sorted(read_records(ws, "wb_x").to_pylist(), key=lambda r: r["name"]) == [
        {"name": "a", "n": 5},
        {"name": "b", "n": 2},
    ]
