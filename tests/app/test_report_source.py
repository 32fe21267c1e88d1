"""One source for the report: the app's download is the file ``workbench report`` writes, verdict included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.store.workspace import Workspace
from workbench_app import resources


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_the_app_download_and_the_cli_report_are_the_same_with_the_gate_verdict(
    compared_ws: Workspace, comparison_id: str, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"report.{fmt}"
    result = CliRunner().invoke(
        app, ["report", comparison_id, "-f", fmt, "-o", str(out), "-w", compared_ws.uri]
    )
    assert result.exit_code == 0, result.output
    written = out.read_text(encoding="utf-8")
    downloaded = resources.report(compared_ws.uri, comparison_id, fmt)
    if fmt == "html":  # plotly gives each figure a fresh random id: compare the text around them
        assert _without_figure_ids(downloaded) == _without_figure_ids(written)
    else:
        assert downloaded == written
    verdict = {"md": "#### Gate: **GO**", "html": "<h2>Gate: GO</h2>", "json": '"verdict": "GO"'}[fmt]
    assert verdict in downloaded
    if fmt == "json":
        assert json.loads(downloaded)["gate"]["verdict"] == "GO"


def _without_figure_ids(text: str) -> str:
    import re

    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", text)
