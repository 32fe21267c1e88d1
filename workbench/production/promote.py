"""Production: the ``production`` tag, promotion through the evidence gate, rollback, refresh, history.

Production is a LanceDB tag. The version it points at names the active vector column in its
table metadata (``workbench:active_column``), so a reader that opens the tag gets the data and
the column to search in one immutable snapshot. Every version production has pointed at is
also tagged ``production-<n>`` (n = 1, 2, …), so earlier production versions stay reachable
(and safe from version cleanup) for rollback and audit.

- :func:`promote` writes one metadata-only version on top of the latest data and moves the tag:
  O(1) in rows, no data copied. It requires a stored comparison of the candidate against the
  current production column, made on the current data, on which the gate says GO
  (:mod:`workbench.gate.evaluate`); ``force=True`` with a reason overrides NO-GO,
  INCONCLUSIVE or an absent comparison.
- :func:`check_gate` is that gate as a dry run: the verdict :func:`promote` would act on,
  with every check and why, and nothing written.
- :func:`rollback` moves the tag back to the previous production version (no data touched),
  the one :func:`workbench.store.production.rollback_from_tags` names from the numbered tags.
- :func:`refresh` moves production to the latest version with the *same* column, to serve
  documents ingested (dual-written) since the last promotion. No gate: the model did not change.
- :func:`history` lists every move (table ``wb_promotions``): who, when, from → to, comparison,
  gate results, reason.

Every move is written as an intent first and completed idempotently (see
:mod:`workbench.production.recovery`): a promote or refresh writes its record into the
metadata-only version it publishes, then claims ``production-<n>`` (atomic: a concurrent move
fails here with :class:`ConcurrentChangeError`), then moves ``production``, then appends the
history. A rollback claims ``rolled-back-<n>`` first. A crash between any two steps leaves
production where it was or where it was asked to go, and re-running the command finishes the
move instead of making another. A promotion during which another process changed the documents
is refused rather than publishing unchecked rows.

Two moves of one table never interleave: each command holds the table's production lock from
its first read to its history record (:func:`workbench.production.recovery.move_lock`), so a
second command refuses at once, in one line, having written nothing; and each compares the
ledger with what it read just before its claim (a compare-and-set that also covers writers on
other machines). So a rollback never undoes a promotion it did not see, every move has one
history record, and "finished an interrupted command" is said only of a command that was.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from workbench.contract import (
    META_ACTIVE,
    META_PROMOTION,
    candidate_tag,
    parse_production_tag,
    production_tag,
    rolled_back_tag,
)
from workbench.errors import (
    ConcurrentChangeError,
    CorruptStateError,
    GateFailedError,
    InvalidArgumentError,
    LifecycleError,
    StaleColumnError,
)
from workbench.gate.config import GateConfig, workspace_gate
from workbench.gate.evaluate import GateContext, GateResult, evaluate_gate
from workbench.killpoints import reached
from workbench.production.history import PromotionRecord, history, intent_json
from workbench.production.recovery import (
    finish_moves,
    finish_rollback,
    move_lock,
    next_number,
    recorded_moves,
    require_unmoved,
)
from workbench.store.failures import explain
from workbench.store.health import count_problems
from workbench.store.production import (
    Production,
    RollbackTarget,
    active_column_at,
    columns_at,
    ledger,
    production,
    production_column,
    rollback_from_tags,
)
from workbench.store.progressive import refuse_progressive
from workbench.store.rollouts import close_rollout
from workbench.store.status import column_problems, corpus_digest
from workbench.store.workspace import VectorColumn, Workspace, vector_columns

if TYPE_CHECKING:
    from lance import LanceDataset
    from lancedb.table import Table

    from workbench.store.comparisons import Comparison, Manifest

log = logging.getLogger(__name__)

# Operations that leave every row's id and content_hash as they were.
# Operations that leave every row's id and content_hash as they were (an index build or
# update, the metadata recording its parameters, and a compaction (Rewrite) change no row).
_DATA_PRESERVING = frozenset({"UpdateConfig", "Project", "CreateIndex", "Rewrite"})
_MAX_TRANSACTIONS = 64


__all__ = [
    "check_gate",
    "data_unchanged_since",
    "first_production_hint",
    "gate_for_report",
    "known_healthy",
    "promote",
    "refresh",
    "rollback",
    "rollback_target",
]


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
        force: Promote although the gate says NO-GO or INCONCLUSIVE, or there is no
            comparison; needs ``reason``. The verdict and its reasons are recorded either way.
        reason: Why; recorded in the history (required with ``force``).
        initial: The first promotion of a table that has no production yet (no comparison).
        actor: Who, for the history (default: the OS user).
        now: The time to record (default: now, UTC).

    Raises:
        NotFoundError: no such table or column (or comparison).
        LifecycleError: the column is already production; ``initial`` with a production, or
            no production without ``initial``; a concurrent change.
        StaleColumnError: the column has missing or stale rows.
        GateFailedError: no comparison, or the gate said NO-GO or INCONCLUSIVE (``.verdict``,
            ``.reasons`` says why), without force.
        InvalidArgumentError: ``force`` without a reason.
        ConcurrentChangeError: another production move of the table is running, or production
            moved after this command read it; nothing was written.
    """
    table = ws.table(table_name)
    target = ws.resolve_column(table, column)
    with move_lock(ws, table_name, "promote"):
        for done in finish_moves(ws, table_name, actor=actor, reason=reason, now=now):
            if done.action == "promote" and done.to_column == target.name:
                return done  # this command was interrupted before; it is finished now
        table = ws.table(table_name)
        seen = ledger(table)
        current = production(table)
        _check_promotable(table, target, current, initial=initial, force=force, reason=reason)
        validated = table.version
        result = None
        if current is not None:  # not an initial promotion (checked above)
            result = _gate_or_force(ws, table, target, current, comparison, gate, force=force)
        number = next_number(ws, table)
        intent = intent_json(
            "promote",
            actor=actor,
            now=now,
            from_column=current.column if current else None,
            to_column=target.name,
            from_version=current.version if current else None,
            tag=production_tag(number),
            comparison_id=comparison if result is not None else None,
            gate=result,
            forced=force,
            initial=initial,
            reason=reason,
        )
        require_unmoved(table, seen, "promote")
        _publish(table, "promote", target.name, number, intent=intent, validated=validated)
        return _finish(ws, table_name, "promote", actor=actor, reason=reason, now=now)


def check_gate(
    ws: Workspace,
    table_name: str,
    column: str,
    *,
    comparison: str | Comparison,
    gate: GateConfig | None = None,
) -> GateResult:
    """A dry run of the gate: what it says now about promoting ``column`` on ``comparison``.

    :func:`promote` decides with exactly this; nothing is written. NO-GO and INCONCLUSIVE are
    results (``.verdict``, ``.reasons``, ``.summary``; ``.exit_code`` 1 or 3), not errors.

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
    refuse_progressive(target, action="gate")
    current = production(table)
    if current is None or current.column is None:
        raise LifecycleError(
            f"table {table_name!r} has no production column yet, so there is no gate to pass; "
            + first_production_hint(table, target.name)
        )
    baseline = columns_at(table, current.version).get(current.column)
    if baseline is None:
        raise LifecycleError(f"production v{current.version} names column {current.column!r}, which it lacks")
    if isinstance(comparison, str):
        from workbench.store.comparisons import load_comparison

        comparison = load_comparison(ws, comparison)
    context = GateContext(table.name, baseline, target, _digest_now(table, comparison.manifest))
    return evaluate_gate(gate or workspace_gate(ws), comparison, context)


def gate_for_report(
    ws: Workspace, comparison: Comparison, *, gate: GateConfig | None = None
) -> GateResult | None:
    """The gate's verdict on promoting a comparison's candidate, when that is the question it answers.

    That is when its baseline is the current production column of its table; otherwise (no
    production yet, or a comparison between two other columns) None: there is no promotion to
    judge. Used to put the verdict into reports.
    """
    m = comparison.manifest
    if not ws.has_table(m.table) or m.candidate_column not in ws.table(m.table).schema.names:
        return None
    if production_column(ws.table(m.table)) != m.baseline_column:
        return None
    return check_gate(ws, m.table, m.candidate_column, comparison=comparison, gate=gate)


def rollback(
    ws: Workspace, table_name: str, *, actor: str | None = None, reason: str = "", now: datetime | None = None
) -> PromotionRecord:
    """Move production back to the version it pointed at before the last move. Instant.

    The target is :func:`workbench.store.production.rollback_from_tags`: the newest
    ``production-<n>`` below the current one that was not itself rolled back. Successive
    rollbacks walk further back. The target is refused if its column has been retired since.
    Re-running an interrupted rollback finishes it; it never rolls back a second time.

    Raises:
        LifecycleError: no production, or no earlier production version to go back to.
        ConcurrentChangeError: another production move of the table is running, or production
            moved after this command read it (another rollback of the same move included);
            nothing was written.
        CorruptStateError: a data file of the target version is missing or truncated; nothing
            was moved.
    """
    ws.table(table_name)  # a missing table is named before any lock is taken
    with move_lock(ws, table_name, "rollback"):
        for done in finish_moves(ws, table_name, actor=actor, reason=reason, now=now):
            if done.action == "rollback":
                return done  # this command was interrupted before; it is finished now
        table = ws.table(table_name)
        seen = ledger(table)
        target = rollback_target(ws, table_name)
        _check_servable(ws, table, target)
        claim = rolled_back_tag(target.undo)
        require_unmoved(table, seen, "rollback")
        try:
            table.tags.create(claim, target.undo_version)
        except (RuntimeError, ValueError) as exc:  # "Ref conflict": another rollback claimed this move
            if claim not in table.tags.list():  # no claim: a read-only or full disk, damage
                raise (explain(exc) or exc) from exc
            raise ConcurrentChangeError(
                f"another rollback of {table_name!r} undid {production_tag(target.undo)} at the same time "
                f"(its tag {claim} exists); this one changed nothing. See `workbench history`."
            ) from exc
        reached("rollback:claimed")
        done = finish_rollback(ws, table_name, target.undo, actor=actor, reason=reason, now=now)
        return _end_rollout(ws, done)


def rollback_target(ws: Workspace, table_name: str) -> RollbackTarget:
    """A dry run of :func:`rollback`: the move it would undo and the version and column it would serve.

    Read from the numbered production tags (see :mod:`workbench.store.production`); nothing is
    written. A rollback that is not possible is an error saying why, as :func:`rollback` raises it.

    Raises:
        LifecycleError: no production, no earlier production, or its column was retired.

    Example:
        >>> rollback_target(ws, "demo").column  # doctest: +SKIP
        'vec__paraphrase_minilm_l3_v2__036a49b2'
    """
    table = ws.table(table_name)
    _require_in_step(table)
    return rollback_from_tags(table, recorded_moves(history(ws, table_name)))


def refresh(
    ws: Workspace, table_name: str, *, actor: str | None = None, reason: str = "", now: datetime | None = None
) -> PromotionRecord:
    """Move production to the latest data, same column: serve documents ingested since.

    Ingest dual-writes new and changed documents into every vector column with each column's
    own pinned model, so the production column at the latest version holds only vectors of
    its model; the health check below proves there is no missing or stale row. Like a
    promotion, it publishes one metadata-only version (carrying its record) and tags it.

    Raises:
        LifecycleError: no production, or production already serves the latest data.
        StaleColumnError: the production column has missing or stale rows at the latest version.
        ConcurrentChangeError: another production move of the table is running, or production
            moved after this command read it; nothing was written.
    """
    ws.table(table_name)  # a missing table is named before any lock is taken
    with move_lock(ws, table_name, "refresh"):
        for done in finish_moves(ws, table_name, actor=actor, reason=reason, now=now):
            if done.action == "refresh":
                return done  # this command was interrupted before; it is finished now
        table = ws.table(table_name)
        seen = ledger(table)
        current = production(table)
        if current is None or current.column is None:
            raise LifecycleError(f"table {table_name!r} has no production yet; promote a column first")
        if current.version == table.version:
            raise LifecycleError(
                f"production of {table_name!r} already is the latest version (v{table.version})"
            )
        column = ws.resolve_column(table, current.column)
        _check_healthy(table, column)
        number = next_number(ws, table)
        intent = intent_json(
            "refresh",
            actor=actor,
            now=now,
            from_column=current.column,
            to_column=column.name,
            from_version=current.version,
            tag=production_tag(number),
            reason=reason,
        )
        require_unmoved(table, seen, "refresh")
        _publish(table, "refresh", column.name, number, intent=intent, validated=table.version)
        return _finish(ws, table_name, "refresh", actor=actor, reason=reason, now=now)


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
            f"table {table.name!r} has no production column yet; " + first_production_hint(table, target.name)
        )
    refuse_progressive(target, action="promote")
    _check_healthy(table, target)


def first_production_hint(table: Table, candidate: str) -> str:
    """How to record what search serves today (usually the old model), never ``candidate``.

    An initial promotion skips the gate, so the hint names the table's other column when there
    is exactly one, and says to compare and promote ``candidate`` through the gate afterwards.
    """
    others = [c.name for c in vector_columns(table) if c.name != candidate]
    today = others[0] if len(others) == 1 else "OLD_COLUMN"
    return (
        f"record what search serves today (usually the old model) with `workbench promote {today} "
        f"--initial -t {table.name}`, then compare {candidate} against it and promote it through the gate"
    )


def _check_servable(ws: Workspace, table: Table, target: RollbackTarget) -> None:
    """Refuse a rollback onto a version whose data files are gone or truncated (nothing moved).

    Moving the tag would leave production unservable: every file of the target version must be
    there at the size its manifest records (one ``stat`` per file, see
    :mod:`workbench.store.health`), and its column readable.
    """
    dataset = table.to_lance().checkout_version(target.version)
    column = ws.resolve_column(table, target.column)
    try:
        count_problems(dataset, column, read_vectors=False)
    except CorruptStateError as exc:
        raise CorruptStateError(
            f"cannot roll back {table.name!r} to v{target.version} ({target.column}), production was not "
            f"moved: {exc}"
        ) from exc


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
            f"the gate says {result.verdict} for {target.name} (comparison {comparison}): "
            f"{'; '.join(result.reasons)}. {_way_out(result)}",
            result.reasons,
            verdict=result.verdict,
        )
    return result


def _way_out(result: GateResult) -> str:
    if result.verdict == "INCONCLUSIVE":
        more = f"about {result.more_queries} more" if result.more_queries is not None else "more"
        return (
            f"The evidence decides neither way: judge {more} queries and rerun `workbench compare`, "
            "or override with --force --reason TEXT."
        )
    return "Fix the cause, or override with --force --reason TEXT."


def _digest_now(table: Table, manifest: Manifest) -> str:
    """The digest of the latest data; the comparison's own when no document changed since it ran."""
    if data_unchanged_since(table.to_lance(), manifest.table_version):
        return manifest.corpus_digest
    return corpus_digest(table, like=manifest.corpus_digest)


def _publish(table: Table, action: str, column: str, number: int, *, intent: str, validated: int) -> None:
    """Write the intent (a metadata-only version naming ``column``), then claim ``production-<n>``.

    The claim is the commit point: before it nothing anyone reads has changed (``production``
    still points where it did); after it the move is decided and :func:`_finish` (or a rerun)
    completes it.
    """
    dataset = table.to_lance()
    dataset.update_schema_metadata({META_ACTIVE: column, META_PROMOTION: intent})
    table.checkout_latest()
    reached(f"{action}:metadata")
    version = table.version
    if not data_unchanged_since(table.to_lance(), validated):
        raise LifecycleError(
            f"the documents of {table.name!r} changed during the promotion (v{validated} → v{version}); "
            "nothing was promoted. Check the new data and try again."
        )
    tag = production_tag(number)
    try:
        table.tags.create(tag, version)
    except (RuntimeError, ValueError) as exc:  # "Ref conflict": another move took this number first
        raise ConcurrentChangeError(
            f"another promotion of {table.name!r} is in progress ({tag} exists); this one changed "
            "nothing. Re-running it is safe once the other finished."
        ) from exc
    reached(f"{action}:claimed")


def _finish(
    ws: Workspace, table_name: str, action: str, *, actor: str | None, reason: str, now: datetime | None
) -> PromotionRecord:
    """Complete the move just claimed (the same code that finishes an interrupted one)."""
    finished = finish_moves(ws, table_name, actor=actor, reason=reason, now=now)
    done = [r for r in finished if r.action == action]
    if not done:  # another process finished it between our claim and here; it is in the history
        return history(ws, table_name)[-1]
    return _end_rollout(ws, _fresh(done[-1]))


def _end_rollout(ws: Workspace, record: PromotionRecord) -> PromotionRecord:
    """Close the live rollout this move ends (:func:`workbench.store.rollouts.close_rollout`)."""
    if record.to_column is not None:
        close_rollout(ws, record.table, action=record.action, column=record.to_column, actor=record.actor)
    return record


def _fresh(record: PromotionRecord) -> PromotionRecord:
    """The record as a fresh run reports it (finishing its own claim is not a resumption)."""
    from dataclasses import replace

    return replace(record, resumed=False)


def _require_in_step(table: Table) -> None:
    """Refuse to act relative to a ``production`` tag moved outside the workbench."""
    book = ledger(table)
    top = book.top
    if book.production is not None and top is not None and book.live[top] != book.production:
        raise LifecycleError(
            f"production of {table.name!r} points at v{book.production}, but the newest production move "
            f"({production_tag(top)}) is v{book.live[top]}: the tag was moved outside the workbench. "
            f"Promote the column you want to serve explicitly instead of rolling back."
        )
