"""Workspace status: column health counted inside Lance, and what every table version changed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from tests.conftest import write_corpus
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.errors import StaleColumnError
from workbench.models.catalog import CATALOG
from workbench.production.promote import promote, rollback
from workbench.production.retire import retire
from workbench.retrieval.search import check_fresh
from workbench.store.status import column_health, column_problems, version_timeline
from workbench.store.workspace import Workspace, vector_columns

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column


def _changes(ws: Workspace) -> dict[int, str]:
    return {row["version"]: row["change"] for row in version_timeline(ws.table("demo"))}


# --- health ------------------------------------------------------------------------------------


@pytest.mark.parametrize("read_vectors", [True, False])
def test_health_counts_missing_and_stale_rows_per_column(demo_ws: Workspace, read_vectors: bool) -> None:
    table = demo_ws.table("demo")
    assert column_health(table, read_vectors=read_vectors) == {OLD: (0, 0), NEW: (0, 0)}
    table.update(where="id = 'd0001'", values={"content_hash": "edited-outside-the-workbench"})
    row = {"id": "zz", "title": "", "text": "added without a dual-write", "content_hash": "h"}
    table.add(pa.Table.from_pylist([row]).cast(pa.schema([table.schema.field(n) for n in row])))
    health = column_health(table, read_vectors=read_vectors)
    assert health == {OLD: (1, 1), NEW: (1, 1)}
    assert health == {
        c.name: column_problems(table, c, read_vectors=read_vectors) for c in vector_columns(table)
    }


def test_check_fresh_refuses_or_warns_about_one_unhealthy_column(demo_ws: Workspace) -> None:
    table = demo_ws.table("demo")
    columns = vector_columns(table)
    assert check_fresh(table, columns) == []
    table.update(where="id = 'd0002'", values={"content_hash": "changed"})
    with pytest.raises(StaleColumnError, match=rf"column {OLD} has 0 rows without a vector and 1 stale rows"):
        check_fresh(table, columns)
    warnings = check_fresh(table, columns, allow_stale=True)
    assert len(warnings) == 2 and all(w.endswith("compared anyway") for w in warnings)


# --- the version timeline ----------------------------------------------------------------------


def test_timeline_says_what_each_demo_version_changed(demo_ws: Workspace) -> None:
    rows = version_timeline(demo_ws.table("demo"))
    assert [(r["version"], r["rows"], r["change"]) for r in rows] == [
        (1, 432, "created: 432 rows"),
        (2, 432, f"added column {OLD}"),
        (3, 432, f"added column {NEW}"),
        (4, 432, f"production → {OLD}"),
    ]
    assert rows[1]["tags"] == [f"candidate-{OLD}"] and rows[3]["tags"] == ["production", "production-1"]


def test_timeline_describes_upserts_deletes_promotions_and_retirement(
    demo_ws: Workspace, embedders, tmp_path: Path
) -> None:
    docs = {
        "x1": ("New", "A new document."),
        "x2": ("Newer", "Another one."),
        "d0001": ("Edited", "Changed."),
    }
    ingest(demo_ws, write_corpus(tmp_path / "more.jsonl", docs), table="demo", embedders=embedders)
    demo_ws.table("demo").delete("id = 'x2'")
    promote(demo_ws, "demo", NEW, force=True, reason="test")
    rollback(demo_ws, "demo")  # moves the tag back: no new version
    assert list(_changes(demo_ws).values())[4:] == [
        "upsert: +2 rows, 1 changed",
        "delete: -1 row (id = 'x2')",
        f"production → {NEW}",
    ]
    retire(demo_ws, "demo", NEW, grace=timedelta(0))
    changes = _changes(demo_ws)
    assert changes[max(changes)] == f"deleted column {NEW}"
    # the cleanup kept the tagged versions; the oldest one left cannot say which column it added
    assert changes[min(changes)] == "added columns (the version before was cleaned up)"


def test_an_unreadable_stored_pin_is_corrupt_state_not_a_pydantic_error(tmp_path) -> None:
    import lancedb
    import pyarrow as pa

    from workbench.contract import META_MODEL
    from workbench.errors import CorruptStateError
    from workbench.store.workspace import vector_columns

    db = lancedb.connect(tmp_path / "ws")
    field = pa.field("vec__x__00000000", pa.list_(pa.float32(), 2), metadata={META_MODEL: '{"name": "x"}'})
    table = db.create_table(
        "t",
        pa.table(
            {"id": ["a"], field.name: [[0.0, 1.0]]}, schema=pa.schema([pa.field("id", pa.string()), field])
        ),
    )
    with pytest.raises(CorruptStateError, match=r"pin stored with column 'vec__x__00000000' is unreadable"):
        vector_columns(table)


def test_the_corpus_digest_streams_and_still_reads_digests_of_the_old_kind(demo_ws) -> None:
    import hashlib

    from workbench.store.status import corpus_digest

    table = demo_ws.table("demo")
    digest = corpus_digest(table)
    assert digest.startswith("v2:") and corpus_digest(demo_ws.view("demo")) == digest
    pairs = table.to_arrow().select(["id", "content_hash"]).sort_by("id").to_pylist()
    legacy = hashlib.sha256("".join(f"{r['id']}\t{r['content_hash']}\n" for r in pairs).encode()).hexdigest()
    assert corpus_digest(table, like=legacy) == legacy  # a comparison recorded before v2 still matches
    assert corpus_digest(table, like=digest) == digest
    table.update(where="id = 'd0001'", values={"content_hash": "edited"})
    assert corpus_digest(table) != digest and corpus_digest(table, like=legacy) != legacy
