"""The report of a stored comparison with the workspace's gate verdict: one source for CLI and app.

``workbench report`` writes it and the app's Reports page downloads it; both call
:func:`comparison_report`, so the verdict and the sections are the same everywhere. When the
candidate ran in the shadow of production (``workbench rollout shadow``), the report ends with
that live, label-free evidence.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.comparison.report import ReportFormat, render_report, write_output
from workbench.gate.config import GateConfig, workspace_gate
from workbench.production.promote import gate_for_report
from workbench.production.shadow import shadow_report

if TYPE_CHECKING:
    from workbench.store.comparisons import Comparison
    from workbench.store.workspace import Workspace

__all__ = ["comparison_report", "write_comparison_report"]


def comparison_report(
    ws: Workspace, comparison: Comparison, *, format: ReportFormat, gate: GateConfig | None = None
) -> str:
    """``comparison`` rendered in ``format`` with the gate's verdict on promoting its candidate.

    The verdict is there when the comparison's baseline is its table's production column (see
    :func:`workbench.production.promote.gate_for_report`); the thresholds are ``gate``, else
    ``<workspace>/gate.toml``, else the defaults, and the primary metric is theirs.
    """
    thresholds = gate or workspace_gate(ws)
    verdict = gate_for_report(ws, comparison, gate=thresholds)
    text = render_report(comparison, format=format, primary=thresholds.primary, gate=verdict)
    return _with_live_evidence(ws, comparison, text, format)


def _with_live_evidence(ws: Workspace, comparison: Comparison, text: str, format: ReportFormat) -> str:
    """Add the shadow's label-free live evidence on the comparison's candidate, when there is any."""
    m = comparison.manifest
    if format == "csv" or not ws.has_table(m.table):
        return text
    live = shadow_report(ws, m.table, candidate=m.candidate_column)
    if not live.queries:
        return text
    lines = live.lines()
    if format == "json":
        data = json.loads(text)
        data["shadow"] = live.to_dict()
        return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    if format == "md":
        body = "\n".join(f"- {line.strip()}" for line in lines[1:])
        return f"{text.rstrip()}\n\n## Live evidence (shadow)\n\n{lines[0]}.\n\n{body}\n"
    items = "".join(f"<li>{html.escape(line.strip())}</li>" for line in lines[1:])
    section = f"<h2>Live evidence (shadow)</h2><p>{html.escape(lines[0])}.</p><ul>{items}</ul>"
    return text.replace("</body>", section + "</body>", 1)


def write_comparison_report(
    ws: Workspace,
    comparison: Comparison,
    path: str | Path,
    *,
    format: ReportFormat,
    gate: GateConfig | None = None,
) -> Path:
    """Write :func:`comparison_report` to ``path`` whole (nothing is left on a failure)."""
    path = Path(path)
    write_output(path, comparison_report(ws, comparison, format=format, gate=gate))
    return path
