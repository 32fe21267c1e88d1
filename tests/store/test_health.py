"""Column health is counted once per table version, and a changed table is always recounted."""

from __future__ import annotations

import os
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


# --- damage after an earlier check is seen: the memo is keyed by the files it verified ---------


def _production_data_file(ws: Workspace) -> Path:
    """The data file that holds production's vector column (what `search` reads)."""
    from workbench.store.production import production

    table = ws.table(DEMO_TABLE)
    current = production(table)
    assert current is not None and current.column is not None
    dataset = table.to_lance().checkout_version(current.version)
    field_id = dataset.lance_schema.field(current.column).id()
    for fragment in dataset.get_fragments():
        for data in fragment.metadata.files:
            if field_id in data.fields:
                return Path(dataset.uri) / "data" / data.path
    raise AssertionError("no data file holds the production column")


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_check_and_status_see_a_data_file_damaged_after_a_check(demo_ws: Workspace, damage: str) -> None:
    from typer.testing import CliRunner

    from workbench.cli.app import app

    runner = CliRunner()
    first = runner.invoke(app, ["check", "-w", demo_ws.uri])
    assert first.exit_code == 0 and first.stdout.startswith("ok: production of 'demo'"), first.output
    healthy = runner.invoke(app, ["status", "-w", demo_ws.uri])
    assert healthy.exit_code == 0 and "missing 0, stale 0" in healthy.stdout  # both memoised now

    data = _production_data_file(demo_ws)
    if damage == "deleted":
        data.unlink()
    else:
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])

    again = runner.invoke(app, ["check", "-w", demo_ws.uri])
    assert again.exit_code == 1 and again.stdout.startswith("FAILED: production of 'demo'"), again.output
    assert "workspace data is missing or damaged" in again.stderr and data.name in again.stderr
    status = runner.invoke(app, ["status", "-w", demo_ws.uri])
    assert status.exit_code == 2 and "missing 0, stale 0" not in status.stdout
    lines = [line for line in status.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "workspace data is missing or damaged" in lines[0], lines
    assert data.name in lines[0] and "Restore" in lines[0]


def test_a_file_replaced_under_the_same_name_and_size_is_recounted(
    demo_ws: Workspace, counted: list[int]
) -> None:
    table = demo_ws.table(DEMO_TABLE)
    column = demo_ws.resolve_column(table, NEW)
    assert column_problems(table, column, read_vectors=False) == (0, 0)
    data = _production_data_file(demo_ws)
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # rewritten in place, same size
    assert column_problems(demo_ws.table(DEMO_TABLE), column, read_vectors=False) == (0, 0)
    assert len(counted) == 2  # not answered from the memo of other bytes
