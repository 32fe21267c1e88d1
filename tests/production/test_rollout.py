"""Rollout steps: validated before they are recorded, sticky canary assignment, ended by promote."""

from __future__ import annotations

import pytest

from tests.conftest import lifecycle_snapshot
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.errors import InvalidArgumentError, LifecycleError
from workbench.models.catalog import CATALOG
from workbench.production.promote import promote, rollback
from workbench.production.rollout import abort_rollout, current_rollout, in_canary, start_canary, start_shadow
from workbench.store.rollouts import rollout_steps
from workbench.store.workspace import Workspace

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column


def test_canary_share_of_10000_distinct_keys_is_within_one_point_and_sticky() -> None:
    keys = [f"user-{i}" for i in range(10_000)]
    chosen = [in_canary(key, 10) for key in keys]
    assert 0.09 <= sum(chosen) / len(keys) <= 0.11
    assert chosen == [in_canary(key, 10) for key in keys]  # the same key, the same column
    raised = [in_canary(key, 25) for key in keys]
    assert all(r for c, r in zip(chosen, raised, strict=True) if c)  # raising keeps everyone already in
    assert 0.24 <= sum(raised) / len(keys) <= 0.26
    assert not any(in_canary(key, 0) for key in keys[:1000])


def test_shadow_then_canary_then_abort_is_a_versioned_record(demo_ws: Workspace, embedders) -> None:
    shadow = start_shadow(
        demo_ws, "demo", NEW_MODEL, sample=0.5, reason="live check", actor="ana", embedder=embedders[NEW]
    )
    assert (shadow.seq, shadow.action, shadow.candidate, shadow.sample) == (1, "shadow", NEW, 0.5)
    assert shadow.production_column == OLD and shadow.version == demo_ws.table("demo").version
    canary = start_canary(demo_ws, "demo", NEW, percent=5, actor="ana", embedder=embedders[NEW])
    raised = start_canary(demo_ws, "demo", NEW, percent=25, actor="bo")
    assert raised.version == canary.version == shadow.version  # the same validated version, a new share
    assert current_rollout(demo_ws, "demo") == raised
    aborted = abort_rollout(demo_ws, "demo", reason="p99 too high", actor="bo")
    assert aborted is not None and aborted.action == "abort" and current_rollout(demo_ws, "demo") is None
    assert abort_rollout(demo_ws, "demo") is None  # nothing in force: nothing written
    steps = rollout_steps(demo_ws, "demo")
    assert [(s.seq, s.action, s.percent, s.actor) for s in steps] == [
        (1, "shadow", 0.0, "ana"),
        (2, "canary", 5.0, "ana"),
        (3, "canary", 25.0, "bo"),
        (4, "abort", 0.0, "bo"),
    ]
    assert steps[3].message.startswith("#4 rollout aborted") and "p99 too high" in steps[3].message


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda ws: start_shadow(ws, "demo", NEW, sample=0),
            InvalidArgumentError,
            r"--sample must be a share",
        ),
        (
            lambda ws: start_shadow(ws, "demo", NEW, sample=1.5),
            InvalidArgumentError,
            r"--sample must be a share",
        ),
        (
            lambda ws: start_canary(ws, "demo", NEW, percent=100),
            InvalidArgumentError,
            r"promote the candidate",
        ),
        (lambda ws: start_canary(ws, "demo", NEW, percent=-1), InvalidArgumentError, r"--percent must be in"),
        (lambda ws: start_canary(ws, "demo", OLD, percent=5), LifecycleError, r"already production"),
        (lambda ws: start_canary(ws, "demo", "vec__nope", percent=5), Exception, r"no vector column"),
    ],
)
def test_bad_rollout_steps_are_refused_with_nothing_written(demo_ws: Workspace, call, error, message) -> None:
    before = lifecycle_snapshot(demo_ws)
    with pytest.raises(error, match=message):
        call(demo_ws)
    assert rollout_steps(demo_ws, "demo") == [] and lifecycle_snapshot(demo_ws) == before


def test_a_rollout_needs_a_production(empty_ws: Workspace, tmp_path) -> None:
    from tests.conftest import write_corpus
    from workbench.embedding.ingest import ingest

    ingest(empty_ws, write_corpus(tmp_path / "c.jsonl", {"a": ("A", "alpha")}), table="t")
    with pytest.raises(Exception, match=r"no vector column|no production"):
        start_canary(empty_ws, "t", NEW, percent=5)


def test_promoting_the_candidate_ends_the_rollout_and_a_rollback_aborts_it(
    compared_ws: Workspace, comparison_id: str, embedders
) -> None:
    start_canary(compared_ws, "demo", NEW, percent=10, embedder=embedders[NEW])
    promote(compared_ws, "demo", NEW, comparison=comparison_id)
    assert current_rollout(compared_ws, "demo") is None
    assert [s.action for s in rollout_steps(compared_ws, "demo")] == ["canary", "end"]
    start_shadow(compared_ws, "demo", OLD, sample=0.1, embedder=embedders[OLD])
    rollback(compared_ws, "demo")  # production is OLD again: the shadow of OLD is over
    assert current_rollout(compared_ws, "demo") is None
    assert [s.action for s in rollout_steps(compared_ws, "demo")] == ["canary", "end", "shadow", "abort"]
