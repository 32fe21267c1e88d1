"""Provider deprecation dates: a pin's sunset, days left in `workbench models`, and the monitor's
alarm within ``warn_days`` of it (tested at 89 and 91 days from an injected "today")."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.errors import ConfigError
from workbench.monitoring.config import MonitorConfig
from workbench.monitoring.monitor import monitor
from workbench.store.config import load_config
from workbench.store.status import pinned_models
from workbench.store.workspace import Workspace, open_workspace

runner = CliRunner()
NOTICE = "https://example.com/deprecations#minilm-l3"


def _sunset_in(ws: Workspace, days: int, now: datetime) -> None:
    ws.update_model(OLD_MODEL, sunset=(now + timedelta(days=days)).date(), sunset_note=NOTICE)


@pytest.mark.slow
@pytest.mark.parametrize(("days", "status"), [(91, "ok"), (90, "alarm"), (89, "alarm")])
def test_the_monitor_alarms_within_warn_days_of_production_s_sunset(
    compared_ws: Workspace, comparison_id: str, old_embedder, days: int, status: str
) -> None:
    now = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    _sunset_in(compared_ws, days, now)
    run = monitor(open_workspace(compared_ws.uri), "demo", embedder=old_embedder, now=now, maintenance=False)
    signal = run.signal("sunset")
    assert signal is not None and signal.status == status and signal.values["days_left"] == days
    assert f"{OLD_MODEL} (" in signal.reason and NOTICE in signal.reason
    if status == "ok":
        assert run.verdict == "ok" and f"{days} days left (warning from 90)" in signal.reason
        return
    assert run.verdict == "alarm" and any(a.startswith("sunset:") for a in run.alarms)
    # the candidates already embedded, with their last comparison against production
    assert f"{NEW_MODEL} (" in signal.reason and f"last comparison {comparison_id}" in signal.reason
    assert "ndcg@10 +" in signal.reason


@pytest.mark.slow
def test_warn_days_is_configurable_and_no_sunset_means_no_signal(demo_ws: Workspace, old_embedder) -> None:
    now = datetime(2027, 1, 4, tzinfo=UTC)
    quiet = monitor(demo_ws, "demo", embedder=old_embedder, now=now, maintenance=False)
    assert quiet.signal("sunset") is None
    _sunset_in(demo_ws, 100, now)
    run = monitor(demo_ws, "demo", config=MonitorConfig(warn_days=120), embedder=old_embedder, now=now)
    assert run.signal("sunset").status == "alarm"
    assert "no candidate" not in run.signal("sunset").reason  # minilm-l6 is embedded, not compared yet
    assert "not compared yet" in run.signal("sunset").reason


def test_sunset_is_set_afterwards_listed_with_days_left_and_kept_out_of_the_identity(
    tmp_path: Path,
) -> None:
    ws = open_workspace(tmp_path / "ws")
    before = ws.model(OLD_MODEL)
    result = runner.invoke(app, ["models", "sunset", OLD_MODEL, "2027-03-01", "--note", NOTICE, "-w", ws.uri])
    assert result.exit_code == 0 and "sunsets on 2027-03-01" in result.output, result.output
    pinned = load_config(Path(ws.uri) / "workbench.toml").models[OLD_MODEL]
    assert pinned.sunset == date(2027, 3, 1) and pinned.sunset_note == NOTICE
    assert pinned.column == before.column and pinned.fingerprint == before.fingerprint
    (row,) = [
        r for r in pinned_models(open_workspace(ws.uri), today=date(2027, 1, 1)) if r["alias"] == OLD_MODEL
    ]
    assert (row["sunset"], row["days_left"]) == ("2027-03-01", 59)
    listing = runner.invoke(app, ["models", "-w", ws.uri])
    assert "sunset 2027-03-01 (" in listing.output and NOTICE in listing.output
    rows = json.loads(runner.invoke(app, ["models", "--json", "-w", ws.uri]).output)
    assert {r["alias"]: r["sunset"] for r in rows}[OLD_MODEL] == "2027-03-01"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "sunset", OLD_MODEL, "March 2027"], "is not a date; write YYYY-MM-DD"),
        (["models", "sunset", "nope", "2027-03-01"], "unknown model alias 'nope'"),
        (["models", "add", "x", "--path", ".", "--revision", "r1", "--sunset", "soon"], "is not a date"),
    ],
)
def test_bad_sunsets_are_refused_with_nothing_written(tmp_path: Path, args: list[str], message: str) -> None:
    ws = open_workspace(tmp_path / "ws")
    result = runner.invoke(app, [*args, "-w", ws.uri])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (Path(ws.uri) / "workbench.toml").exists()


def test_identity_fields_cannot_change_through_details(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws")
    with pytest.raises(ConfigError, match="dim of 'minilm-l3' cannot change"):
        ws.update_model(OLD_MODEL, dim=12)
