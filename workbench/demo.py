"""The demo workspace: the project's own small corpus, embedded by an old and a new model.

``data/demo`` holds about 450 short documents and 50+ labelled queries written for this
project. The demo ingests them, embeds them with paraphrase-MiniLM-L3-v2 (the "old" model)
and all-MiniLM-L6-v2 (the "new" one) — both 384-d, so mixing them would raise no error —
each in its own vector column, makes the old one production (as a team would be before the
migration) and stores one comparison of the two, so Compare, Promote and Reports have
something to show on the first visit.
"""

from __future__ import annotations

import logging
from pathlib import Path

from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import NotFoundError
from workbench.production.promote import promote
from workbench.progress import StepFn
from workbench.store.production import production_column
from workbench.store.workspace import Workspace

__all__ = [
    "DEMO_EVAL_SET",
    "DEMO_TABLE",
    "NEW_MODEL",
    "OLD_MODEL",
    "build_demo",
    "demo_data_dir",
    "demo_ready",
]

log = logging.getLogger(__name__)

DEMO_TABLE = "demo"
DEMO_EVAL_SET = "demo"
OLD_MODEL = "minilm-l3"
NEW_MODEL = "minilm-l6"


def demo_data_dir() -> Path:
    """The demo corpus: ``data/demo`` of a checkout, or its copy inside an installed wheel."""
    checkout = Path(__file__).resolve().parents[1] / "data" / "demo"
    installed = Path(__file__).resolve().parent / "corpus" / "demo_data"
    for path in (checkout, installed):
        if (path / "corpus.jsonl").is_file():
            return path
    raise NotFoundError(
        f"the demo data is missing (looked in {checkout} and {installed}); reinstall the package"
    )


def demo_ready(ws: Workspace, *, with_comparison: bool = True) -> bool:
    """True if the demo table has both models' columns, a production column and (by default) a comparison."""
    if not ws.has_table(DEMO_TABLE):
        return False
    table = ws.table(DEMO_TABLE)
    if not all(ws.model(m).column in table.schema.names for m in (OLD_MODEL, NEW_MODEL)):
        return False
    if production_column(table) is None:
        return False
    return not with_comparison or _has_comparison(ws)


def _has_comparison(ws: Workspace) -> bool:
    from workbench.store.comparisons import list_comparisons

    return not list_comparisons(ws, table=DEMO_TABLE).empty


def build_demo(
    ws: Workspace, *, step: StepFn | None = None, data: Path | None = None, with_comparison: bool = True
) -> list[str]:
    """Build (or finish building) the demo in ``ws``; returns one message per step.

    Idempotent and resumable: an interrupted build continues where it stopped.

    Args:
        ws: The workspace.
        step: Makes a progress callback per long step (given its description).
        data: The demo collection (default: ``data/demo`` of the checkout).
        with_comparison: Also store a comparison of the new model against the old one.
    """
    messages = []
    if not ws.has_table(DEMO_TABLE):
        result = ingest(ws, data or demo_data_dir(), table=DEMO_TABLE, eval_set=DEMO_EVAL_SET)
        messages.append(result.message)
    for alias in (OLD_MODEL, NEW_MODEL):
        ref = ws.model(alias)
        progress = step(f"embedding with {alias}") if step else None
        messages.append(embed(ws, DEMO_TABLE, ref, on_progress=progress).message)
    for line in _initial_production(ws):
        messages.append(line)
    if with_comparison and not _has_comparison(ws):
        from workbench.comparison.run import compare

        progress = step("comparing the two models") if step else None
        found = compare(
            ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set=DEMO_EVAL_SET, on_progress=progress
        )
        messages.append(f"comparison {found.id}: {found.summary}")
    return messages


def _initial_production(ws: Workspace) -> list[str]:
    """Make the old model production, as a team would be before the migration."""
    table = ws.table(DEMO_TABLE)
    if production_column(table) is not None:
        return []
    record = promote(
        ws,
        DEMO_TABLE,
        ws.model(OLD_MODEL).column,
        initial=True,
        reason="demo: the old model is in production",
    )
    return [f"production → {record.to_column} (initial)"]
