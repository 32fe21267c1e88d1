"""A monitoring pass finishes a scheduled retirement that a crash interrupted, or raises an alarm.

The scheduled retirement runs inside ``workbench monitor`` (a real CLI subprocess) and is
SIGKILLed at each step boundary of ``retire`` (``WORKBENCH_KILL_AT``, see
:mod:`workbench.killpoints`). The next pass must leave the table as an uninterrupted
retirement does: the column gone, exactly one history record, no ``retiring-…`` claim, and
``status`` and ``check`` clean.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.killpoints import cli, rerun
from workbench.contract import retiring_tag
from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.killpoints import STEPS
from workbench.models.catalog import CATALOG
from workbench.monitoring.config import MONITOR_FILE
from workbench.production.history import history
from workbench.production.promote import promote
from workbench.production.serving import check
from workbench.store.status import table_status
from workbench.store.workspace import open_workspace

pytestmark = pytest.mark.slow

OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column
MONITOR = ("monitor", "-t", DEMO_TABLE)


@pytest.fixture(scope="module")
def promoted(compared_template: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The new model in production, the old one due for retirement at once (``retire_after = "0s"``)."""
    path = tmp_path_factory.mktemp("monitor-retire") / "ws"
    shutil.copytree(compared_template[0], path)
    promote(open_workspace(path), DEMO_TABLE, NEW_MODEL, comparison=compared_template[1])
    (path / MONITOR_FILE).write_text('retire_after = "0s"\n', encoding="utf-8")
    return path


def _killed_in_retirement(promoted: Path, tmp_path: Path, step: str) -> Path:
    workspace = tmp_path / "ws"
    shutil.copytree(promoted, workspace)
    killed = cli(workspace, MONITOR, kill_at=step)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-600:])
    return workspace


def _assert_retired_once(workspace: Path, embedder: object) -> None:
    ws = open_workspace(workspace)
    retired = [e for e in history(ws, DEMO_TABLE) if e.action == "retire"]
    assert len(retired) == 1 and retired[0].from_column == OLD, retired
    table = ws.table(DEMO_TABLE)
    assert retiring_tag(OLD) not in table.tags.list() and OLD not in table.schema.names
    status = table_status(table)
    assert status.unfinished == [] and status.active_column == NEW
    report = check(ws, DEMO_TABLE, embedder=embedder)  # type: ignore[arg-type]
    assert report.ok and not [n for n in report.notes if "interrupted" in n], report


@pytest.mark.parametrize("step", STEPS["retire"])
def test_the_next_pass_finishes_a_scheduled_retirement_killed_at_step(
    step: str, promoted: Path, new_embedder: object, tmp_path: Path
) -> None:
    workspace = _killed_in_retirement(promoted, tmp_path, step)
    code, stderr = rerun(workspace, MONITOR)
    assert code == 0, stderr
    _assert_retired_once(workspace, new_embedder)


def test_a_pass_that_may_not_finish_it_raises_an_alarm_naming_it(
    promoted: Path, new_embedder: object, tmp_path: Path
) -> None:
    workspace = _killed_in_retirement(promoted, tmp_path, "retire:dropped")
    code, stderr = rerun(workspace, (*MONITOR, "--no-maintenance"))
    assert code == 1
    alarms = [line for line in stderr.splitlines() if line.startswith("alarm:")]
    assert len(alarms) == 1 and f"retiring {OLD} was interrupted" in alarms[0], stderr
    code, stderr = rerun(workspace, MONITOR)  # a pass with maintenance finishes it
    assert code == 0, stderr
    _assert_retired_once(workspace, new_embedder)
    code, stderr = rerun(workspace, MONITOR)  # and a later pass changes nothing
    assert code == 0, stderr
    _assert_retired_once(workspace, new_embedder)
