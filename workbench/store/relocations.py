"""Relocating a served model: the same weights at a new URL or host, without re-embedding.

A served pin is identified by what the model does (its canary vectors), never by where it
answers, so moving the server (a new host, port, region, gateway or deployment name) keeps the
pin, its column and its vectors. :func:`relocate_model` proves the move first: it re-embeds the
canaries at the new location and requires the pinned dimension and a minimum cosine of at
least the pin's threshold. Then it records the move in ``wb_relocations`` (who, when, from →
to, the measured cosine) and writes the new location into ``workbench.toml``, which every entry
point reads through :meth:`workbench.store.workspace.Workspace.located`. A location whose
canaries differ is refused with nothing written: that is a new model (pin it and migrate).

Example:
    >>> relocate_model(ws, "e5", "http://10.0.0.7:8000/v1")  # doctest: +SKIP
    Relocation(alias='e5', from_location='http://127.0.0.1:8000/v1', ...)
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from workbench.contract import RELOCATIONS_TABLE, relocations_schema
from workbench.errors import CanaryMismatchError, InvalidArgumentError
from workbench.models.canary import verify_canaries
from workbench.models.loading import load_served
from workbench.models.ref import ModelRef
from workbench.store.canaries import canaries_for
from workbench.store.records import append_records, read_records

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["Relocation", "list_relocations", "relocate_model"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Relocation:
    """One recorded move of a served model (a row of ``wb_relocations``)."""

    fingerprint: str
    alias: str
    model: str
    source: str
    from_location: str
    to_location: str
    actor: str
    at: str
    min_cosine: float
    dim: int

    @property
    def message(self) -> str:
        return (
            f"relocated {self.alias} ({self.model}) from {self.from_location} to {self.to_location}: "
            f"canaries min cosine {self.min_cosine:.5f}, dim {self.dim}; by {self.actor} at {self.at}"
        )


def relocate_model(
    ws: Workspace,
    alias: str,
    location: str,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Relocation:
    """Move served ``alias`` to ``location`` once its canaries verify there; record it.

    Args:
        ws: The workspace.
        alias: A served pin of ``workbench.toml``.
        location: The new base URL (OpenAI-compatible) or host (Ollama).
        actor: Who, for the history (default: the OS user).
        now: When (default: now, UTC).

    Raises:
        InvalidArgumentError: ``alias`` is not a served model, or it is already there.
        CanaryMismatchError: the model at ``location`` is not the pinned one (another
            dimension, or a canary cosine below the threshold); nothing was written.
        ServedModelError: ``location`` cannot be reached.
    """
    current = ws.model(alias)
    if not current.is_served:
        raise InvalidArgumentError(
            f"{alias!r} is a {current.source} model, not a served one: it has no server to move. "
            "Relocation is for --source openai or ollama pins"
        )
    moved = ModelRef(**{**current.model_dump(), "location": location.strip().rstrip("/")})
    if moved.location == current.location:
        raise InvalidArgumentError(f"{alias!r} is already at {current.location}; nothing to relocate")
    with load_served(moved) as embedder:  # an Ollama server is checked for the pinned digest here
        result = verify_canaries(embedder, canaries_for(ws, current, embedder))
    if not result.passed:
        raise CanaryMismatchError(
            f"refusing to relocate {alias!r} to {moved.location}: the model there is not the pinned "
            f"one ({result.problem}). Nothing was written. It is a new model: pin it under a new "
            "alias (`workbench models add NEW_ALIAS …`), embed it beside the old column and migrate",
            min_cosine=result.min_cosine,
        )
    record = Relocation(
        fingerprint=current.fingerprint,
        alias=alias,
        model=current.pin,
        source=current.source,
        from_location=current.location,
        to_location=moved.location,
        actor=actor or _default_actor(),
        at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        min_cosine=result.min_cosine,
        dim=result.dim,
    )
    append_records(ws, RELOCATIONS_TABLE, pa.Table.from_pylist([asdict(record)], schema=relocations_schema()))
    ws.update_model(alias, location=moved.location)
    log.info("%s", record.message)
    return record


def list_relocations(ws: Workspace, *, fingerprint: str | None = None) -> list[Relocation]:
    """Recorded relocations (of one pin, if given), oldest first."""
    equals = {"fingerprint": fingerprint} if fingerprint is not None else None
    data = read_records(ws, RELOCATIONS_TABLE, equals=equals)
    rows = [] if data is None else data.to_pylist()
    return sorted((Relocation(**row) for row in rows), key=lambda r: r.at)


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
