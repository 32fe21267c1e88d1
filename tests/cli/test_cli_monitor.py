"""``workbench monitor``: exit 0 ok, 1 alarm, 2 error (nothing written), --json, --every."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.contract import MONITOR_TABLE, content_hash
from workbench.store.monitor_runs import list_monitor_runs
from workbench.store.workspace import Workspace

runner = CliRunner()


def _run(ws: Workspace, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["monitor", *args, "-w", ws.uri])
    return result.exit_code, result.stdout, result.stderr


def _json_documents(text: str) -> list[dict]:
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        document, end = decoder.raw_decode(text, at)
        found.append(document)
        at = end + 1
    return found


@pytest.mark.slow
def test_ok_then_alarm_with_exit_codes_and_json(demo_ws: Workspace) -> None:
    code, out, err = _run(demo_ws)
    assert code == 0, err
    assert out.startswith("OK: pass 1 of 'demo'") and "  ok    integrity:" in out and "  ok    canary:" in out
    table = demo_ws.table("demo")
    text = "Rewritten by the CMS without a re-embed."
    table.update(where="id = 'd0005'", values={"text": text, "content_hash": content_hash("", text)})
    code, out, err = _run(demo_ws, "--json")
    assert code == 1
    run = json.loads(out)
    assert run["verdict"] == "alarm" and run["seq"] == 2
    assert len(run["alarms"]) == 1 and run["alarms"][0].startswith("integrity: ")
    assert "1 stale at the latest" in run["alarms"][0]
    assert "detail" not in run["signals"][0]  # per-query values and samples stay in the table


def test_bad_input_exits_2_and_writes_nothing(demo_ws: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "monitor.toml"
    bad.write_text("min_metric_drop = -1\n", encoding="utf-8")
    for args, message in [
        (("--monitor-config", str(bad)), "setting 'min_metric_drop': must not be negative, got -1"),
        (("--monitor-config", str(tmp_path / "none.toml")), "does not exist"),
        (("--every", "soon"), "duration 'soon' is not understood"),
        (("--every", "0s"), "--every must be a positive interval"),
        (("--table", "nope"), "no table 'nope'"),
    ]:
        code, out, err = _run(demo_ws, *args)
        assert code == 2, (args, out, err)
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and message in errors[0], err
    assert not demo_ws.has_table(MONITOR_TABLE)


@pytest.mark.slow
def test_every_repeats_the_pass(demo_ws: Workspace) -> None:
    code, out, err = _run(demo_ws, "--every", "1s", "--passes", "2", "--json", "--no-maintenance")
    assert code == 0, err
    runs = _json_documents(out)
    assert [r["seq"] for r in runs] == [1, 2] and [r["verdict"] for r in runs] == ["ok", "ok"]
    assert [r.seq for r in list_monitor_runs(demo_ws, "demo")] == [1, 2]
