"""Column health is counted once per table version, and a changed table is always recounted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.demo import DEMO_TABLE, NEW_MODEL
from workbench.models.catalog import CATALOG
from workbench.store import health
from workbench.store.status import column_problems
from workbench.store.workspace import Workspace

NEW = CATALOG[NEW_MODEL].column


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Versions at which the rows were really counted (not answered from the memo)."""
    calls: list[int] = []
    real = health._count

    def counting(dataset, column, read_vectors):  # type: ignore[no-untyped-def]
        calls.append(dataset.version)
        return real(dataset, column, read_vectors)

    monkeypatch.setattr(health, "_count", counting)
    return calls


def test_a_version_is_counted_once_and_a_new_version_again(demo_ws: Workspace, counted: list[int]) -> None:
    table = demo_ws.table(DEMO_TABLE)
    column = demo_ws.resolve_column(table, NEW)
    assert column_problems(table, column, read_vectors=False) == (0, 0)
    assert column_problems(demo_ws.view(DEMO_TABLE), column, read_vectors=False) == (0, 0)
    assert counted == [table.version]  # the second answer came from the memo

    table.update(where="id = 'd0001'", values={"content_hash": "edited outside the workbench"})
    assert column_problems(table, column, read_vectors=False) == (0, 1)  # a new version: recounted
    assert counted == [table.version - 1, table.version]


def test_a_table_recreated_under_the_same_name_is_recounted(demo_ws: Workspace, counted: list[int]) -> None:
    table = demo_ws.table(DEMO_TABLE)
    column = demo_ws.resolve_column(table, NEW)
    assert column_problems(table, column, read_vectors=False) == (0, 0)
    data = table.to_arrow()
    broken = data.set_column(
        data.schema.get_field_index("content_hash"), "content_hash", [["x"] * data.num_rows]
    )
    version = table.version
    shutil.rmtree(Path(demo_ws.uri) / f"{DEMO_TABLE}.lance")
    recreated = demo_ws.db.create_table(DEMO_TABLE, broken)
    for _ in range(version - recreated.version):  # the same version number as before
        recreated.update(where="id = 'd0001'", values={"title": "t"})
    assert recreated.version == version
    assert column_problems(recreated, column, read_vectors=False) == (0, data.num_rows)
    assert len(counted) == 2


def test_an_unwritable_memo_is_skipped(demo_ws: Workspace, counted: list[int], monkeypatch) -> None:
    monkeypatch.setattr(health.tempfile, "mkstemp", lambda **_: (_ for _ in ()).throw(PermissionError("ro")))
    table = demo_ws.table(DEMO_TABLE)
    column = demo_ws.resolve_column(table, NEW)
    assert column_problems(table, column, read_vectors=False) == (0, 0)
    assert column_problems(table, column, read_vectors=False) == (0, 0)
    assert len(counted) == 2  # counted each time, no error
