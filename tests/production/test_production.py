"""One source of truth for production, the rollback target from numbered tags, one record per move."""

from __future__ import annotations

import importlib
from pathlib import Path

import pyarrow as pa
import pytest

from tests.conftest import lifecycle_snapshot
from workbench.contract import META_ACTIVE, PRODUCTION_TAG, PROMOTIONS_TABLE, rolled_back_tag
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.errors import ConcurrentChangeError, CorruptStateError, LifecycleError
from workbench.models.catalog import CATALOG
from workbench.production.history import history
from workbench.production.promote import promote, rollback, rollback_target
from workbench.production.recovery import finish_moves, finish_rollback
from workbench.production.serving import check
from workbench.store.production import ledger, production, unfinished
from workbench.store.status import table_status
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column


@pytest.fixture
def promoted(compared_ws: Workspace, comparison_id: str) -> Workspace:
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    return compared_ws


def test_status_reads_the_tag_not_the_latest_metadata(demo_ws: Workspace, embedders) -> None:
    """A version naming another column (what a crashed promotion leaves) does not change production."""
    table = demo_ws.table("demo")
    table.to_lance().update_schema_metadata({META_ACTIVE: NEW})
    table.checkout_latest()
    assert table_status(table).active_column == OLD
    assert [c.name for c in table_status(table).columns if c.production] == [OLD]
    assert check(demo_ws, "demo", embedder=embedders[OLD]).column == OLD
    assert table_status(table).unfinished == []  # no claim was made: nothing to finish


def test_rollback_target_is_a_dry_run_of_rollback(promoted: Workspace) -> None:
    first_version = ledger(promoted.table("demo")).live[1]
    before = lifecycle_snapshot(promoted)
    target = rollback_target(promoted, "demo")
    assert (target.undo, target.number, target.version, target.column) == (2, 1, first_version, OLD)
    assert target.undo_version == production(promoted.table("demo")).version
    assert lifecycle_snapshot(promoted) == before
    record = rollback(promoted, "demo")
    assert (record.to_version, record.to_column, record.tag) == (target.version, OLD, rolled_back_tag(2))
    tags = promoted.table("demo").tags.list()
    assert "production-2" not in tags and rolled_back_tag(2) in tags
    with pytest.raises(LifecycleError, match="no earlier production version of 'demo'"):
        rollback_target(promoted, "demo")


def test_rollback_ignores_the_history_and_follows_the_tags(promoted: Workspace) -> None:
    """The target does not come from replaying history: a missing history row changes nothing."""
    table = promoted.db.open_table(PROMOTIONS_TABLE)
    table.delete("action = 'promote' AND tag = 'production-1'")
    assert rollback(promoted, "demo").to_column == OLD


def test_a_rerun_of_an_interrupted_rollback_finishes_it_and_never_rolls_forward(promoted: Workspace) -> None:
    table = promoted.table("demo")
    book = ledger(table)
    table.tags.create(rolled_back_tag(2), book.live[2])  # the claim, then a crash
    assert production(table).column == NEW
    assert unfinished(table) == [
        "a rollback of production-2 was interrupted; re-run `workbench rollback` to finish it"
    ]
    record = rollback(promoted, "demo", reason="again")
    assert record.resumed and record.to_column == OLD and "finished an interrupted command" in record.message
    assert production(promoted.table("demo")).column == OLD
    assert [e.action for e in history(promoted, "demo")] == ["promote", "promote", "rollback"]
    with pytest.raises(LifecycleError, match="no earlier production"):  # a second one has nowhere to go
        rollback(promoted, "demo")


def test_one_history_record_per_move_when_two_finish_it(promoted: Workspace) -> None:
    table = promoted.table("demo")
    table.tags.create(rolled_back_tag(2), ledger(table).live[2])
    first = finish_rollback(promoted, "demo", 2, actor="a")
    second = finish_rollback(promoted, "demo", 2, actor="b")  # a concurrent finisher, later
    assert first == second
    rows = promoted.db.open_table(PROMOTIONS_TABLE).to_arrow().to_pylist()
    promoted.db.open_table(PROMOTIONS_TABLE).add(
        pa.Table.from_pylist([rows[-1]])
    )  # lost the race: a duplicate row
    assert [e.action for e in history(promoted, "demo")] == ["promote", "promote", "rollback"]
    assert finish_moves(promoted, "demo", actor=None) == []


def test_concurrent_rollback_loses_the_claim_and_changes_nothing(
    promoted: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("workbench.production.promote")
    real = module.rollback_target

    def raced(ws: Workspace, name: str):
        target = real(ws, name)
        monkeypatch.setattr(module, "rollback_target", real)
        rollback(ws, name, actor="other")  # another process rolls back the same move meanwhile
        return target

    monkeypatch.setattr(module, "rollback_target", raced)
    # another machine's rollback (no shared lock): refused by the compare-and-set before the claim
    with pytest.raises(
        ConcurrentChangeError,
        match=r"production of 'demo' moved after this rollback read it \(rolled-back-2 ",
    ):
        rollback(promoted, "demo", actor="me")
    events = history(promoted, "demo")
    assert [(e.action, e.actor) for e in events][-1] == ("rollback", "other")
    assert len(events) == 3 and production(promoted.table("demo")).column == OLD


def test_a_claimed_promotion_is_finished_by_the_rerun_with_its_own_record(
    compared_ws: Workspace, comparison_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("workbench.production.promote")
    monkeypatch.setattr(module, "_finish", lambda *a, **k: None)  # the crash right after the claim
    promote(compared_ws, "demo", NEW, comparison=comparison_id, actor="alice", reason="better")
    monkeypatch.undo()
    table = compared_ws.table("demo")
    assert production(table).column == OLD and table_status(table).active_column == OLD
    assert any("interrupted" in note for note in unfinished(table))
    record = promote(compared_ws, "demo", NEW, comparison=comparison_id, actor="bob")
    assert record.resumed and (record.actor, record.reason, record.tag) == ("alice", "better", "production-2")
    assert record.gate is not None and record.gate.passed
    assert production(compared_ws.table("demo")).column == NEW
    assert len(history(compared_ws, "demo")) == 2


def test_a_missing_production_manifest_is_damage_not_an_empty_production(
    promoted: Workspace, embedders
) -> None:
    rollback(promoted, "demo")  # production is now an older version than the latest
    table = promoted.table("demo")
    version = production(table).version
    _manifest(Path(promoted.uri) / "demo.lance", version).unlink()
    report = check(promoted, "demo", embedder=embedders[OLD])
    assert not report.ok and "nothing is in production" not in report.problems[0]
    assert f"version {version} of table 'demo' cannot be read" in report.problems[0]
    with pytest.raises(CorruptStateError, match=r"manifest was deleted or damaged.*Restore the folder"):
        production(promoted.table("demo"))


def _manifest(dataset: Path, version: int) -> Path:
    """The manifest file of ``version`` (either Lance naming scheme)."""
    for path in (dataset / "_versions").glob("*.manifest"):
        number = int(path.stem)
        if version in (number, 2**64 - 1 - number):
            return path
    raise AssertionError(f"no manifest for v{version} in {dataset}")


def test_production_tag_moved_by_hand_is_not_rolled_relative_to(promoted: Workspace) -> None:
    table = promoted.table("demo")
    table.tags.update(PRODUCTION_TAG, ledger(table).live[1])
    with pytest.raises(LifecycleError, match=r"moved outside the workbench"):
        rollback(promoted, "demo")
