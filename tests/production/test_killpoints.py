"""Kill -9 at every step boundary of every production command and of a new-table ingest.

Each trial SIGKILLs a real CLI subprocess at one step (``WORKBENCH_KILL_AT``), checks that
status, check, search and the history agree, re-runs the command and checks that it finished
the job (see ``bench/killpoints.py``, which runs the same trials and reports counts).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.killpoints import Scenario, new_documents, prepare, trial
from workbench.killpoints import STEPS

pytestmark = pytest.mark.slow

TRIALS = [(command, step) for command, steps in STEPS.items() for step in steps]


@pytest.fixture(scope="module")
def scenarios(
    compared_template: tuple[Path, str], embedders, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Scenario]:
    import shutil

    root = tmp_path_factory.mktemp("killpoints")
    base = root / "kp-base"
    shutil.copytree(compared_template[0], base)
    built = prepare(base, compared_template[1], embedders, new_documents(root / "new.jsonl"))
    return {s.command: s for s in built}


def test_every_command_has_kill_points() -> None:
    assert set(STEPS) == {"promote", "refresh", "rollback", "retire", "ingest"}
    assert len(TRIALS) == sum(len(s) for s in STEPS.values()) >= 20


@pytest.mark.parametrize(("command", "step"), TRIALS, ids=[s for _, s in TRIALS])
def test_kill_at_step_then_rerun_finishes(
    command: str, step: str, scenarios: dict[str, Scenario], embedders, tmp_path: Path
) -> None:
    assert trial(scenarios[command], step, tmp_path, embedders) == []
