"""Production: the ``production`` tag, promotion through the evidence gate, rollback, refresh, history.

Production is a LanceDB tag. The version it points at names the active vector column in its
table metadata (``workbench:active_column``), so a reader that opens the tag gets the data and
the column to search in one immutable snapshot. Every version production has pointed at is
also tagged ``production-<n>`` (n = 1, 2, …), so earlier production versions stay reachable
(and safe from version cleanup) for rollback and audit.

- :func:`promote` writes one metadata-only version on top of the latest data and moves the tag:
  O(1) in rows, no data copied. It requires a stored comparison of the candidate against the
  current production column, made on the current data, that passes the gate
  (:mod:`workbench.gate`); ``force=True`` with a reason overrides a failing or absent gate.
- :func:`check_gate` is that gate as a dry run: the verdict :func:`promote` would act on,
  with every check and why, and nothing written.
- :func:`rollback` moves the tag back to the previous production version (no data touched;
  the latest version's metadata is re-pointed too so ``status`` agrees).
- :func:`refresh` moves production to the latest version with the *same* column, to serve
  documents ingested (dual-written) since the last promotion. No gate: the model did not change.
- :func:`history` lists every move (table ``wb_promotions``): who, when, from → to, comparison,
  gate results, reason.

Lifecycle operations assume one operator at a time. Two concurrent promotions are detected
(the second cannot create its ``production-<n>`` tag) and refused; a promotion during which
another process changed the documents is refused rather than publishing unchecked rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from workbench.errors import GateFailedError, InvalidArgumentError, LifecycleError, StaleColumnError
from workbench.lifecycle.gate import GateConfig, GateContext, GateResult, evaluate_gate, workspace_gate
from workbench.lifecycle.history import PromotionRecord, append_event, history, previous_production
from workbench.store.contract import (
    META_ACTIVE,
    META_PROMOTION,
    PRODUCTION_TAG,
    candidate_tag,
    parse_production_tag,
    production_tag,
)
from workbench.store.status import column_problems, corpus_digest
from workbench.store.workspace import VectorColumn, Workspace, set_tag, vector_columns

if TYPE_CHECKING:
    from lance import LanceDataset
    from lancedb.table import Table

    from workbench.store.comparisons import Comparison, Manifest

__all__ = [
    "Production",
    "active_column_at",
    "check_gate",
    "columns_at",
    "data_unchanged_since",
    "known_healthy",
    "next_number",
    "production",
    "production_column",
    "promote",
    "refresh",
    "rollback",
    "sync_latest_metadata",
]

log = logging.getLogger(__name__)

# Operations that leave every row's id and content_hash as they were.
_DATA_PRESERVING = frozenset({"UpdateConfig", "Project"})
_MAX_TRANSACTIONS = 64


@dataclass(frozen=True)
class Production:
    """Where the ``production`` tag points and the column that version names as active."""

    version: int
    column: str | None


def production(table: Table) -> Production | None:
    """The ``production`` tag of ``table`` and the active column it names, or None."""
    info = table.tags.list().get(PRODUCTION_TAG)
    if info is None:
        return None
    return Production(info["version"], active_column_at(table, info["version"]))


def production_column(table: Table) -> str | None:
    """The production vector column of ``table``, or None before the first promotion."""
    current = production(table)
    return None if current is None else current.column


def active_column_at(table: Table, version: int) -> str | None:
    """The active column named in the metadata of one version (O(1): reads its manifest)."""
    meta = table.to_lance().checkout_version(version).schema.metadata or {}
    raw = meta.get(META_ACTIVE.encode())
    return raw.decode() if raw else None


def columns_at(table: Table, version: int) -> dict[str, VectorColumn]:
    """The vector columns (with pins) of one version of ``table``, by name."""
    handle = table.to_lance().checkout_version(version)
    return {c.name: c for c in vector_columns(handle)}


def promote(
    ws: Workspace,
    table_name: str,
    column: str,
    *,
    comparison: str | None = None,
    gate: GateConfig | None = None,
    force: bool = False,
    reason: str = "",
    initial: bool = False,
    actor: str | None = None,
    now: datetime | None = None,
) -> PromotionRecord:
    """Make ``column`` the production column of ``table_name`` (metadata + tags, O(1) in rows).

    Args:
        ws: The workspace.
        table_name: The corpus table.
        column: A vector column name or a model alias.
        comparison: Id of a stored comparison of ``column`` (candidate) against the current
            production column (baseline) on the current data.
        gate: Thresholds (default: ``<workspace>/gate.toml`` or the defaults).
        force: Promote even if the gate fails or there is no comparison; needs ``reason``.
        reason: Why; recorded in the history (required with ``force``).
        initial: The first promotion of a table that has no production yet (no comparison).
        actor: Who, for the history (default: the OS user).
        now: The time to record (default: now, UTC).

    Raises:
        NotFoundError: no such table or column (or comparison).
        LifecycleError: the column is already production; ``initial`` with a production, or
            no production without ``initial``; a concurrent change.
        StaleColumnError: the column has missing or stale rows.
        GateFailedError: no comparison, or the gate failed (``.reasons`` lists why), without force.
        InvalidArgumentError: ``force`` without a reason.
    """
    table = ws.table(table_name)
    target = ws.resolve_column(table, column)
    current = production(table)
    _check_promotable(table, target, current, initial=initial, force=force, reason=reason)
    validated = table.version
    result = None
    if current is not None:  # not an initial promotion (checked above)
        result = _gate_or_force(ws, table, target, current, comparison, gate, force=force)
    number = next_number(ws, table)
    version = _publish(table, target.name, number, new_version=True, validated=validated, current=current)
    return append_event(
        ws,
        table_name,
        "promote",
        actor=actor,
        now=now,
        from_column=current.column if current else None,
        to_column=target.name,
        from_version=current.version if current else None,
        to_version=version,
        tag=production_tag(number),
        comparison_id=comparison if result is not None else None,
        gate=result,
        forced=force,
        initial=initial,
        reason=reason,
    )


def check_gate(
    ws: Workspace,
    table_name: str,
    column: str,
    *,
    comparison: str | Comparison,
    gate: GateConfig | None = None,
) -> GateResult:
    """A dry run of the gate: what it says now about promoting ``column`` on ``comparison``.

    :func:`promote` decides with exactly this; nothing is written. A failing gate is a result
    (``.passed`` False, ``.reasons`` says why), not an error.

    Args:
        ws: The workspace.
        table_name: The corpus table.
        column: The column to promote (candidate): a vector column name or a model alias.
        comparison: A stored comparison, or its id, of ``column`` against the production column.
        gate: Thresholds (default: ``<workspace>/gate.toml`` or the defaults).

    Raises:
        NotFoundError: no such table, column or comparison.
        LifecycleError: the table has no production column yet (a first promotion has no gate).

    Example:
        >>> check_gate(ws, "demo", "minilm-l6", comparison=cmp.id).passed  # doctest: +SKIP
        True
    """
    table = ws.table(table_name)
    target = ws.resolve_column(table, column)
    current = production(table)
    if current is None or current.column is None:
        raise LifecycleError(
            f"table {table_name!r} has no production column yet, so there is no gate to pass; make the "
            f"first one with `workbench promote {target.name} --initial`"
        )
    baseline = columns_at(table, current.version).get(current.column)
    if baseline is None:
        raise LifecycleError(f"production v{current.version} names column {current.column!r}, which it lacks")
    if isinstance(comparison, str):
        from workbench.store.comparisons import load_comparison

        comparison = load_comparison(ws, comparison)
    context = GateContext(table.name, baseline, target, _digest_now(table, comparison.manifest))
    return evaluate_gate(gate or workspace_gate(ws), comparison, context)


def rollback(
    ws: Workspace, table_name: str, *, actor: str | None = None, reason: str = "", now: datetime | None = None
) -> PromotionRecord:
    """Move production back to the version it pointed at before the last move. Instant.

    Successive rollbacks walk further back. The target is refused if its column has been
    retired since (its ``production-<n>`` tag and possibly its files are gone).

    Raises:
        LifecycleError: no production, or no earlier production version to go back to.
    """
    table = ws.table(table_name)
    current = production(table)
    if current is None:
        raise LifecycleError(f"table {table_name!r} has no production version, so nothing to roll back")
    target = previous_production(history(ws, table_name), current.version)
    if target is None:
        raise LifecycleError(
            f"no earlier production version of {table_name!r} to roll back to: v{current.version} is "
            "the oldest production in the history (see `workbench history`)"
        )
    column = _rollback_column(table, target)
    set_tag(table, PRODUCTION_TAG, target)
    sync_latest_metadata(table, column)
    return append_event(
        ws,
        table_name,
        "rollback",
        actor=actor,
        now=now,
        from_column=current.column,
        to_column=column,
        from_version=current.version,
        to_version=target,
        reason=reason,
    )


def refresh(
    ws: Workspace, table_name: str, *, actor: str | None = None, reason: str = "", now: datetime | None = None
) -> PromotionRecord:
    """Move production to the latest version, same column: serve documents ingested since.

    Ingest dual-writes new and changed documents into every vector column with each column's
    own pinned model, so the production column at the latest version holds only vectors of
    its model; the health check below proves there is no missing or stale row.

    Raises:
        LifecycleError: no production, or production already is the latest version.
        StaleColumnError: the production column has missing or stale rows at the latest version.
    """
    table = ws.table(table_name)
    current = production(table)
    if current is None or current.column is None:
        raise LifecycleError(f"table {table_name!r} has no production yet; promote a column first")
    if current.version == table.version:
        raise LifecycleError(f"production of {table_name!r} already is the latest version (v{table.version})")
    column = ws.resolve_column(table, current.column)
    _check_healthy(table, column)
    number = next_number(ws, table)
    version = _publish(
        table, column.name, number, new_version=False, validated=table.version, current=current
    )
    return append_event(
        ws,
        table_name,
        "refresh",
        actor=actor,
        now=now,
        from_column=current.column,
        to_column=column.name,
        from_version=current.version,
        to_version=version,
        tag=production_tag(number),
        reason=reason,
    )


def next_number(ws: Workspace, table: Table) -> int:
    """The next ``n`` of ``production-<n>`` (after every tag and every recorded one)."""
    used = [n for name in table.tags.list() if (n := parse_production_tag(name)) is not None]
    used += [n for r in history(ws, table.name) if r.tag and (n := parse_production_tag(r.tag)) is not None]
    return max(used, default=0) + 1


def data_unchanged_since(dataset: LanceDataset, version: int) -> bool:
    """True if no row's id or content_hash can differ between ``version`` and ``dataset``'s version.

    Reads only the transactions in between (metadata-only versions and column drops keep the
    documents), so it costs the same at any table size; False when unsure.
    """
    gap = dataset.version - version
    if gap == 0:
        return True
    if gap < 0 or gap > _MAX_TRANSACTIONS:
        return False
    transactions = dataset.get_transactions(gap)
    return all(t is not None and type(t.operation).__name__ in _DATA_PRESERVING for t in transactions)


def known_healthy(table: Table, column: str) -> bool:
    """True if ``column`` was whole at a tagged version and no document changed since (O(1) in rows).

    ``candidate-<column>`` marks the version where embed added the column for every row, and a
    ``production-<n>`` that served the column was health-checked when it was published. If only
    metadata-only versions followed the newest of those, the column is still whole and fresh,
    and the scan of the hash columns (0.2 s per million rows) can be skipped.
    """
    verified = [
        info["version"]
        for name, info in table.tags.list().items()
        if name == candidate_tag(column)
        or (parse_production_tag(name) is not None and active_column_at(table, info["version"]) == column)
    ]
    return bool(verified) and data_unchanged_since(table.to_lance(), max(verified))


def _check_promotable(
    table: Table,
    target: VectorColumn,
    current: Production | None,
    *,
    initial: bool,
    force: bool,
    reason: str,
) -> None:
    if force and not reason.strip():
        raise InvalidArgumentError(
            "--force needs --reason TEXT: an override is recorded with why it was made"
        )
    if current is not None and current.column == target.name:
        raise LifecycleError(f"{target.name} already is production of {table.name!r} (v{current.version})")
    if initial and current is not None:
        raise LifecycleError(
            f"an initial promotion is only for a table without production; {table.name!r} serves "
            f"{current.column} (v{current.version}). Promote with --comparison ID instead."
        )
    if not initial and current is None:
        raise LifecycleError(
            f"table {table.name!r} has no production column yet; make the first one with "
            f"`workbench promote {target.name} --initial`"
        )
    _check_healthy(table, target)


def _check_healthy(table: Table, column: VectorColumn) -> None:
    if known_healthy(table, column.name):
        return
    missing, stale = column_problems(table, column, read_vectors=False)
    if missing or stale:
        raise StaleColumnError(
            f"{column.name} has {missing} missing and {stale} stale rows at v{table.version} of "
            f"{table.name!r}; serving it would mix vectors of different texts. Re-ingest the "
            "corpus (ingest dual-writes every column) and try again."
        )


def _gate_or_force(
    ws: Workspace,
    table: Table,
    target: VectorColumn,
    current: Production,
    comparison: str | None,
    gate: GateConfig | None,
    *,
    force: bool,
) -> GateResult | None:
    """The gate's verdict (:func:`check_gate`), raising when it refuses and there is no override."""
    if comparison is None:
        if force:
            return None
        raise GateFailedError(
            f"promoting {target.name} over production {current.column} needs evidence: run "
            f"`workbench compare --baseline {current.column} --candidate {target.name}` and pass "
            "--comparison ID (or override with --force --reason TEXT)",
            ["no comparison given"],
        )
    result = check_gate(ws, table.name, target.name, comparison=comparison, gate=gate)
    if not result.passed and not force:
        raise GateFailedError(
            f"the gate refused {target.name} (comparison {comparison}): {'; '.join(result.reasons)}. "
            "Fix the cause, or override with --force --reason TEXT.",
            result.reasons,
        )
    return result


def _digest_now(table: Table, manifest: Manifest) -> str:
    """The digest of the latest data; the comparison's own when no document changed since it ran."""
    if data_unchanged_since(table.to_lance(), manifest.table_version):
        return manifest.corpus_digest
    return corpus_digest(table)


def _publish(
    table: Table, column: str, number: int, *, new_version: bool, validated: int, current: Production | None
) -> int:
    """Name ``column`` active at the latest version, tag it ``production-<n>``, move ``production``."""
    dataset = table.to_lance()
    if new_version or active_column_at(table, dataset.version) != column:
        dataset.update_schema_metadata({META_ACTIVE: column, META_PROMOTION: str(number)})
        table.checkout_latest()
    version = dataset.version
    if not data_unchanged_since(dataset, validated):
        sync_latest_metadata(table, current.column if current else None)
        raise LifecycleError(
            f"the documents of {table.name!r} changed during the promotion (v{validated} → v{version}); "
            "nothing was promoted. Check the new data and try again."
        )
    tag = production_tag(number)
    try:
        table.tags.create(tag, version)
    except RuntimeError as exc:  # "Ref conflict": another promotion took this number first
        raise LifecycleError(f"another promotion of {table.name!r} is in progress ({tag} exists)") from exc
    set_tag(table, PRODUCTION_TAG, version)
    return version


def sync_latest_metadata(table: Table, column: str | None) -> None:
    """Make the latest version's metadata name ``column`` (what ``status`` reads), if it does not."""
    table.checkout_latest()
    if column is not None and active_column_at(table, table.version) != column:
        table.to_lance().update_schema_metadata({META_ACTIVE: column})
        table.checkout_latest()


def _rollback_column(table: Table, version: int) -> str:
    known = {v["version"] for v in table.list_versions()}
    column = active_column_at(table, version) if version in known else None
    if column is None:
        raise LifecycleError(
            f"the previous production v{version} of {table.name!r} has been pruned (its column was "
            "retired, or its tag removed); there is nothing safe to roll back to"
        )
    if column not in table.schema.names:
        raise LifecycleError(
            f"the previous production v{version} of {table.name!r} served {column}, which has been "
            "retired since; there is nothing safe to roll back to"
        )
    return column
