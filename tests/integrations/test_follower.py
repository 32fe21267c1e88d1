"""The follow logic both retrievers share: the interval, the first promotion, a refused production."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import write_corpus
from workbench.contract import PRODUCTION_TAG
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import LifecycleError, NotFoundError
from workbench.integrations.follower import ProductionFollower
from workbench.models.catalog import CATALOG
from workbench.production.promote import promote
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
QUERY = "how do I undo a bad model release?"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.slow
def test_the_tag_is_checked_at_most_every_interval(
    compared_ws: Workspace, comparison_id: str, embedders
) -> None:
    clock = Clock()
    follower = ProductionFollower(compared_ws, "demo", follow_interval=2, embedders=embedders, clock=clock)
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    clock.now = 1.9
    assert follower.search(QUERY, k=3).column == OLD  # not due yet: the old version answers
    clock.now = 2.0
    assert follower.search(QUERY, k=3).column == NEW
    assert follower.index is not None and follower.index.embedder is embedders[NEW]  # no model reloaded


def test_the_first_promotion_is_followed(demo_ws: Workspace, embedders, tmp_path: Path) -> None:
    ingest(
        demo_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha"), "b": ("B", "beta")}), table="fresh"
    )
    follower = ProductionFollower(demo_ws, "fresh", embedders=embedders)
    assert follower.index is None
    with pytest.raises(LifecycleError, match=r"table 'fresh' has no 'production' tag"):
        follower.search("alpha", k=1)
    embed(demo_ws, "fresh", CATALOG[OLD_MODEL], embedder=embedders[OLD])
    promote(demo_ws, "fresh", OLD, initial=True)
    found = follower.search("alpha", k=1)  # answered at once, whatever the interval
    assert (found.column, found.hits[0].id) == (OLD, "a")


def test_a_production_that_fails_validation_is_not_served(
    demo_ws: Workspace, embedders, caplog: pytest.LogCaptureFixture
) -> None:
    follower = ProductionFollower(demo_ws, "demo", follow_interval=0, embedders=embedders)
    good = follower.search(QUERY, k=3)
    table = demo_ws.table("demo")
    table.update(where="id = 'd0001'", values={"content_hash": "edited-outside-the-workbench"})
    table.tags.update(PRODUCTION_TAG, table.version)  # a tag moved by hand onto a stale version
    with caplog.at_level(logging.WARNING, logger="workbench.integrations.follower"):
        assert follower.search(QUERY, k=3) == good  # the last good version keeps answering
        assert follower.search(QUERY, k=3) == good
    (line,) = [r.getMessage() for r in caplog.records]  # one line per refused version, not per query
    assert line.startswith(f"production v{table.version} of 'demo' is not served (still v{good.version}): ")
    assert follower.problem is not None and "vectors of outdated text" in follower.problem
    table.tags.update(PRODUCTION_TAG, good.version)  # moved back to what is served: nothing is wrong
    assert follower.search(QUERY, k=3) == good and follower.problem is None


@pytest.mark.parametrize(
    ("where", "table", "message"),
    [
        ("missing", None, r"does not exist"),
        ("demo", "nope", r"nope"),
    ],
)
def test_an_unknown_workspace_or_table_is_refused_when_built(
    demo_ws: Workspace, tmp_path: Path, where: str, table: str | None, message: str
) -> None:
    path = tmp_path / "missing" if where == "missing" else Path(demo_ws.uri)
    with pytest.raises(NotFoundError, match=message):
        ProductionFollower(path, table)
    assert not (tmp_path / "missing").exists()  # nothing created
