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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import NotFoundError
from workbench.models.loading import load_embedder
from workbench.production.promote import promote
from workbench.progress import ProgressFn, StepFn
from workbench.store.production import production_column
from workbench.store.workspace import Workspace

if TYPE_CHECKING:
    from workbench.models.embedder import Embedder
    from workbench.models.ref import ModelRef

__all__ = [
    "DEMO_EVAL_SET",
    "DEMO_TABLE",
    "NEW_MODEL",
    "OLD_MODEL",
    "DemoWork",
    "build_demo",
    "demo_data_dir",
    "demo_ready",
    "demo_work",
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


@dataclass(frozen=True)
class DemoWork:
    """What is left of building the demo in a workspace (see :func:`demo_work`).

    Attributes:
        documents: Documents in the demo corpus.
        models: Aliases of the models still to load and embed the corpus with.
        queries: Queries the comparison will encode and search per model (0: no comparison left).
    """

    documents: int
    models: tuple[str, ...]
    queries: int

    @property
    def units(self) -> int:
        """Progress units of the whole build: each document per model, each query per model."""
        return self.documents * len(self.models) + 2 * self.queries


def demo_work(ws: Workspace, *, data: Path | None = None, with_comparison: bool = True) -> DemoWork:
    """What :func:`build_demo` still has to do in ``ws`` (nothing is loaded or written)."""
    folder = data or demo_data_dir()
    documents = _lines(folder / "corpus.jsonl")
    table = ws.table(DEMO_TABLE) if ws.has_table(DEMO_TABLE) else None
    models = tuple(
        alias
        for alias in (OLD_MODEL, NEW_MODEL)
        if table is None or ws.model(alias).column not in table.schema.names
    )
    compares = with_comparison and (table is None or not _has_comparison(ws))
    return DemoWork(documents, models, _lines(folder / "queries.jsonl") if compares else 0)


def build_demo(
    ws: Workspace,
    *,
    step: StepFn | None = None,
    data: Path | None = None,
    with_comparison: bool = True,
    embedders: Mapping[str, Embedder] | None = None,
) -> list[str]:
    """Build (or finish building) the demo in ``ws``; returns one message per step.

    Idempotent and resumable: an interrupted build continues where it stopped. Each model is
    loaded (and verified) once and kept for the whole build: it embeds the corpus and encodes
    the comparison's queries.

    Args:
        ws: The workspace.
        step: Makes a progress callback per long step (given its description).
        data: The demo collection (default: ``data/demo`` of the checkout).
        with_comparison: Also store a comparison of the new model against the old one.
        embedders: Already-loaded models keyed by column name (the others are loaded here).
    """
    messages = []
    if not ws.has_table(DEMO_TABLE):
        result = ingest(ws, data or demo_data_dir(), table=DEMO_TABLE, eval_set=DEMO_EVAL_SET)
        messages.append(result.message)
    loaded = dict(embedders or {})
    for alias in (OLD_MODEL, NEW_MODEL):
        ref = ws.model(alias)
        if ref.column in ws.table(DEMO_TABLE).schema.names:
            continue
        if ref.column not in loaded:
            loading = step(f"loading {alias}") if step else None
            loaded[ref.column] = _load(ref, loading)
        progress = step(f"embedding with {alias}") if step else None
        messages.append(embed(ws, DEMO_TABLE, ref, embedder=loaded[ref.column], on_progress=progress).message)
    for line in _initial_production(ws):
        messages.append(line)
    if with_comparison and not _has_comparison(ws):
        from workbench.comparison.run import compare

        for alias in (OLD_MODEL, NEW_MODEL):  # a resumed build loads here what it did not embed with
            ref = ws.model(alias)
            if ref.column not in loaded:
                loading = step(f"loading {alias}") if step else None
                loaded[ref.column] = _load(ref, loading)
        progress = step("comparing the two models") if step else None
        found = compare(
            ws,
            baseline=OLD_MODEL,
            candidate=NEW_MODEL,
            eval_set=DEMO_EVAL_SET,
            on_progress=progress,
            embedders=loaded,
        )
        messages.append(f"comparison {found.id}: {found.summary}")
    return messages


def _load(ref: ModelRef, progress: ProgressFn | None) -> Embedder:
    if progress is not None:
        progress(0, 1)
    model = load_embedder(ref)
    if progress is not None:
        progress(1, 1)
    return model


def _lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


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
