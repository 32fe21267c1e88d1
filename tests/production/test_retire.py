"""Retirement: grace period, which tags go and which stay, pruning around tagged versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import lifecycle_snapshot
from workbench.contract import PRODUCTION_TAG
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.errors import InvalidArgumentError, LifecycleError, NotFoundError
from workbench.models.catalog import CATALOG
from workbench.production.history import history
from workbench.production.promote import promote, rollback
from workbench.production.retire import out_of_production_since, parse_duration, retire
from workbench.production.serving import check, search
from workbench.store.status import column_health
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("2w", timedelta(weeks=2)),
        ("1.5d", timedelta(hours=36)),
        ("0", timedelta(0)),
        (" 3 ", timedelta(days=3)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7 days", "-1d", "d", "1y"])
def test_bad_duration(text: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"duration .* is not understood; .*45s, 30m, 12h, 7d, 2w"):
        parse_duration(text)


@pytest.fixture
def promoted(compared_ws: Workspace, comparison_id: str) -> Workspace:
    """The new model in production, the old one just out of it."""
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    return compared_ws


def test_retire_after_grace_drops_the_column_and_its_tags(promoted: Workspace, embedders) -> None:
    tags_before = promoted.table("demo").tags.list()
    result = retire(promoted, "demo", OLD, grace=timedelta(0), actor="carol", reason="migration done")
    table = promoted.table("demo")
    assert OLD not in table.schema.names and CATALOG[OLD_MODEL].src_column not in table.schema.names
    assert set(result.deleted_tags) == {f"candidate-{OLD}", "production-1"}
    assert set(result.kept_tags) == {f"candidate-{NEW}", "production-2", PRODUCTION_TAG}
    assert set(table.tags.list()) == set(tags_before) - set(result.deleted_tags)
    assert result.versions_pruned > 0 and result.version < table.version + 1
    for tag, info in table.tags.list().items():  # tagged versions survive the pruning, readable
        table.checkout(info["version"])
        assert table.count_rows() == 432, tag
        table.checkout_latest()
    assert column_health(table) == {NEW: (0, 0)}
    assert search(promoted, "rice", k=1, embedder=embedders[NEW]).column == NEW
    assert check(promoted, embedder=embedders[NEW]).ok
    event = history(promoted, "demo")[-1]
    assert (event.action, event.from_column, event.actor, event.reason) == (
        "retire",
        OLD,
        "carol",
        "migration done",
    )
    assert result.record == event and "retired" in result.message
    before = lifecycle_snapshot(promoted)
    pruned = r"previous production v\d+ of 'demo' has been pruned .*nothing safe to roll back to"
    with pytest.raises(LifecycleError, match=pruned):
        rollback(promoted, "demo")
    assert lifecycle_snapshot(promoted) == before


def test_retire_within_the_grace_period_is_refused(promoted: Workspace) -> None:
    before = lifecycle_snapshot(promoted)
    with pytest.raises(
        LifecycleError, match=r"out of production only since .*grace period of 7 days.* ends at"
    ):
        retire(promoted, "demo", OLD)
    assert lifecycle_snapshot(promoted) == before
    later = datetime.now(UTC) + timedelta(days=8)
    result = retire(promoted, "demo", OLD_MODEL, now=later)  # an alias works too
    assert result.column == OLD and result.versions_pruned == 0  # none older than the 7-day grace
    with pytest.raises(
        LifecycleError, match=r"served vec__paraphrase_minilm_l3_v2__036a49b2, which has been retired"
    ):
        rollback(promoted, "demo")


def test_grace_counts_from_leaving_production(promoted: Workspace) -> None:
    left = datetime.fromisoformat(history(promoted, "demo")[-1].at)
    column = promoted.resolve_column(promoted.table("demo"), OLD)
    assert out_of_production_since(history(promoted, "demo"), column) == left


def test_never_promoted_column_counts_from_its_creation(demo_ws: Workspace) -> None:
    column = demo_ws.resolve_column(demo_ws.table("demo"), NEW)
    created = datetime.fromisoformat(column.created_at)
    assert out_of_production_since(history(demo_ws, "demo"), column) == created
    with pytest.raises(LifecycleError, match="grace period"):
        retire(demo_ws, "demo", NEW, now=created + timedelta(days=6))
    result = retire(demo_ws, "demo", NEW, now=created + timedelta(days=7, seconds=1))
    assert result.deleted_tags == (f"candidate-{NEW}",)
    assert PRODUCTION_TAG in result.kept_tags


@pytest.mark.parametrize(
    ("column", "kwargs", "error", "match"),
    [
        (OLD, {}, LifecycleError, r"is the production column of 'demo'; promote another column"),
        (OLD, {"grace": timedelta(0)}, LifecycleError, "is the production column"),
        ("vec__nope__00000000", {}, NotFoundError, r"no vector column 'vec__nope__00000000'"),
        (NEW, {"grace": timedelta(days=-1)}, InvalidArgumentError, "grace must not be negative"),
    ],
    ids=["production", "production-no-grace", "unknown-column", "negative-grace"],
)
def test_bad_retirements_change_nothing(
    demo_ws: Workspace, column: str, kwargs: dict, error: type[Exception], match: str
) -> None:
    before = lifecycle_snapshot(demo_ws)
    with pytest.raises(error, match=match):
        retire(demo_ws, "demo", column, **kwargs)
    assert lifecycle_snapshot(demo_ws) == before
    assert OLD in demo_ws.table("demo").schema.names
