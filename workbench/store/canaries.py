"""Canary vectors stored with the pins of a workspace, and the record of their re-checks.

``wb_canaries`` holds, per model fingerprint, the canary vectors the model gave when it was
pinned (``workbench models add`` for a served model; the first use in this workspace for a
local model, whose files are verified by hash first). A new vector column copies them into its
field metadata, so every reader of the column can re-check its model without the workspace.
``wb_canary_checks`` records passing re-checks (when, minimum cosine) for the Workspace page and
monitoring; a failing check raises and writes nothing. Recording is best-effort: on a read-only
or full disk the re-check still runs and decides, and only its record is skipped (with a note).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from workbench.contract import CANARIES_TABLE, CANARY_CHECKS_TABLE, canaries_schema, canary_checks_schema
from workbench.errors import ConfigError, StorageError
from workbench.models.canary import CanaryPin, CanaryResult, compute_canaries
from workbench.models.ref import VECTOR_SETTINGS
from workbench.store.failures import explain
from workbench.store.records import read_records

if TYPE_CHECKING:
    from workbench.models.embedder import Embedder
    from workbench.models.ref import ModelRef
    from workbench.store.workspace import Workspace

__all__ = [
    "canaries_for",
    "canary_key",
    "last_checks",
    "load_canaries",
    "record_check",
    "save_canaries",
]

log = logging.getLogger(__name__)


def canary_key(ref: ModelRef) -> str:
    """What identifies a pin's canary vectors: the weights plus every setting that changes vectors.

    A Matryoshka truncation or another document prefix over the same weights gives other
    canary vectors, so they are stored apart.
    """
    settings = {name: getattr(ref, name) for name in VECTOR_SETTINGS}
    if all(value in (None, "", True) for value in settings.values()):
        return ref.fingerprint
    return f"{ref.fingerprint}|{json.dumps(settings, sort_keys=True)}"


def save_canaries(ws: Workspace, ref: ModelRef, pin: CanaryPin) -> None:
    """Store ``pin`` for ``ref`` (idempotent: an existing row for the same pin identity is kept)."""
    row = pa.table(
        {
            "fingerprint": [canary_key(ref)],
            "model": [ref.pin],
            "texts_sha256": [pin.texts_sha256],
            "canaries_json": [pin.to_json()],
            "created_at": [datetime.now(UTC).isoformat(timespec="seconds")],
        },
        schema=canaries_schema(),
    )
    table = ws.db.create_table(CANARIES_TABLE, schema=row.schema, exist_ok=True)
    table.merge_insert("fingerprint").when_not_matched_insert_all().execute(row)


def load_canaries(ws: Workspace, ref: ModelRef) -> CanaryPin | None:
    """The canary vectors stored for ``ref``, or None."""
    if not ws.has_table(CANARIES_TABLE):
        return None
    key = {"fingerprint": canary_key(ref)}
    found = read_records(ws, CANARIES_TABLE, columns=["canaries_json"], equals=key)
    rows = found.to_pylist() if found is not None else []
    return CanaryPin.from_json(rows[0]["canaries_json"]) if rows else None


def canaries_for(ws: Workspace, ref: ModelRef, embedder: Embedder) -> CanaryPin:
    """The pinned canaries of ``ref``, computing and storing them on a local model's first use.

    A local model's files were verified against its sha256 when it was loaded, so its first
    canary vectors in a workspace are trustworthy. A served model has no files: its canaries
    must come from ``workbench models add``, or nothing can tell its weights changed.

    Raises:
        ConfigError: a served model has no stored canaries in this workspace.
    """
    found = load_canaries(ws, ref)
    if found is not None:
        return found
    if ref.is_served:
        raise ConfigError(
            f"served model {ref.pin} has no canary vectors in workspace {ws.uri!r}, so a silent "
            "weight change could not be detected. Pin it here with `workbench models add ALIAS "
            f"--source {ref.source} …` (which embeds the canaries) before embedding with it."
        )
    pin = compute_canaries(embedder)
    save_canaries(ws, ref, pin)
    log.info("recorded canary vectors of %s on first use", ref.pin)
    return pin


def record_check(ws: Workspace, column: str, result: CanaryResult, *, context: str) -> str | None:
    """Append a passing re-check of ``column``'s model (failures raise and write nothing).

    A remembered result (:mod:`workbench.models.verified`: same files and libraries as a check
    that passed) is appended with that check's time and ``context`` marked ``remembered``.

    Best-effort: the record is history, not the check. On a read-only or full disk nothing is
    written and a one-line note saying so is returned (and logged), so ``check`` and
    ``models verify`` still verify there.

    Returns:
        None when recorded (or nothing to record); else the note.
    """
    if not result.passed:
        return None
    row = pa.table(
        {
            "column": [column],
            "model": [result.model],
            "checked_at": [result.checked_at],
            "min_cosine": [result.min_cosine],
            "dim": [result.dim],
            "seconds": [result.seconds],
            "context": [f"{context}, remembered" if result.remembered else context],
        },
        schema=canary_checks_schema(),
    )
    try:
        ws.db.create_table(CANARY_CHECKS_TABLE, schema=row.schema, exist_ok=True).add(row)
    except (OSError, RuntimeError, ValueError) as exc:
        error = explain(exc)
        if not isinstance(error, StorageError):
            raise
        why = "the disk is full" if "disk is full" in str(error) else "the workspace is not writable"
        note = (
            f"the canary check of {column} passed but was not recorded in {CANARY_CHECKS_TABLE}: "
            f"{why} (nothing was written)"
        )
        log.warning("%s", note)
        return note
    return None


def last_checks(ws: Workspace) -> dict[str, dict[str, object]]:
    """Per vector column, its latest recorded canary check (``checked_at``, ``min_cosine``, …)."""
    if not ws.has_table(CANARY_CHECKS_TABLE):
        return {}
    latest: dict[str, dict[str, object]] = {}
    for row in ws.db.open_table(CANARY_CHECKS_TABLE).to_arrow().to_pylist():
        seen = latest.get(row["column"])
        if seen is None or str(row["checked_at"]) >= str(seen["checked_at"]):
            latest[row["column"]] = row
    return latest
