"""A small demo workspace for progressive-migration tests: old column in production, no new column.

Copied from the session's demo template; the new model's column is dropped (metadata only)
and the table is cut to its first ``rows`` documents, so a test embeds few rows with the real
new model.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.store.production import production
from workbench.store.workspace import Workspace, open_workspace

__all__ = ["small_progressive_ws"]


def small_progressive_ws(template: Path, target: Path, *, rows: int = 120) -> Workspace:
    """A private copy of the demo with production on the old model and no new column."""
    shutil.copytree(template, target)
    ws = open_workspace(target)
    table = ws.table(DEMO_TABLE)
    new = ws.model(NEW_MODEL)
    table.drop_columns([new.column, new.src_column])
    ids = sorted(table.to_lance().to_table(columns=["id"]).column("id").to_pylist())
    if len(ids) > rows:
        table.delete(f"id > '{ids[rows - 1]}'")
    current = production(ws.table(DEMO_TABLE))
    assert current is not None and current.column == ws.model(OLD_MODEL).column
    return ws
