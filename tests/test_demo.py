"""The demo build: what is left to do, and each model loaded once for the whole build."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL, DemoWork, build_demo, demo_ready, demo_work
from workbench.progress import ProgressFn
from workbench.store.workspace import Workspace, open_workspace


def test_the_work_left_is_counted_from_the_workspace(tmp_path: Path, demo_ws: Workspace) -> None:
    fresh = demo_work(open_workspace(tmp_path / "fresh"))
    assert fresh == DemoWork(documents=432, models=(OLD_MODEL, NEW_MODEL), queries=57)
    assert fresh.units == 432 * 2 + 2 * 57
    embedded = demo_work(demo_ws)  # the template: both columns, no comparison yet
    assert embedded == DemoWork(documents=432, models=(), queries=57)
    assert demo_work(demo_ws, with_comparison=False).units == 0


@pytest.mark.slow
def test_a_resumed_build_loads_each_model_once_and_reports_every_step(demo_ws: Workspace) -> None:
    steps: list[str] = []
    reported: dict[str, tuple[int, int]] = {}

    def step(description: str) -> ProgressFn:
        steps.append(description)
        return lambda done, total: reported.__setitem__(description, (done, total))

    build_demo(demo_ws, step=step)
    assert steps == [f"loading {OLD_MODEL}", f"loading {NEW_MODEL}", "comparing the two models"]
    assert reported["comparing the two models"] == (2 * 57, 2 * 57)
    assert demo_ready(demo_ws) and demo_work(demo_ws).units == 0
    assert demo_ws.has_table(DEMO_TABLE)


@pytest.mark.slow
def test_given_models_are_not_loaded_again(demo_ws: Workspace, embedders) -> None:
    steps: list[str] = []
    build_demo(demo_ws, step=lambda d: steps.append(d) or None, embedders=embedders)
    assert steps == ["comparing the two models"]
