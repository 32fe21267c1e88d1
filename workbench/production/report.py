"""The report of a stored comparison with the workspace's gate verdict: one source for CLI and app.

``workbench report`` writes it and the app's Reports page downloads it; both call
:func:`comparison_report`, so the verdict and the sections are the same everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.comparison.report import ReportFormat, render_report, write_output
from workbench.gate.config import GateConfig, workspace_gate
from workbench.production.promote import gate_for_report

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
    return render_report(comparison, format=format, primary=thresholds.primary, gate=verdict)


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
