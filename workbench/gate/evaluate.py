"""The promotion gate: GO, NO-GO or INCONCLUSIVE for promoting a column on a stored comparison.

A gate has two kinds of checks. *Hard* checks make sure the comparison is about this
promotion: the same table, the candidate column against the current production column (same
pins), on the current data (same corpus digest); one that fails means NO-GO. Each is one
function of ``(config, comparison, context)`` in :data:`HARD_CHECKS`, so a new one (an index
recall floor, say) is one function added there. Then the *evidence*: enough judged queries
(fewer than ``min_queries`` is INCONCLUSIVE, not a failure: judging more decides it) and the
statistical checks of :mod:`workbench.gate.verdict` on the paired deltas — non-inferiority
of the one primary metric at its margin, and the guard rails on the others.

- **GO**: every check passes.
- **NO-GO**: a hard check fails, or the evidence shows the candidate worse beyond a margin.
- **INCONCLUSIVE**: neither; the result says about how many judged queries would decide.

The thresholds come from ``<workspace>/gate.toml`` (:mod:`workbench.gate.config`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, computed_field, model_validator

from workbench.gate.config import GateConfig
from workbench.gate.segments import segment_checks
from workbench.gate.verdict import (
    GateCheck,
    Verdict,
    combine,
    from_legacy_passed,
    metric_checks,
    secondary_notes,
)

if TYPE_CHECKING:
    from workbench.store.comparisons import Comparison, Manifest
    from workbench.store.workspace import VectorColumn

__all__ = [
    "EXIT_CODES",
    "HARD_CHECKS",
    "GateContext",
    "GateResult",
    "evaluate_gate",
]

#: Process exit code per verdict, for CI pipelines (2 stays "error").
EXIT_CODES: dict[Verdict, int] = {"GO": 0, "NO-GO": 1, "INCONCLUSIVE": 3}


class GateResult(BaseModel):
    """Every check of one gate evaluation and the verdict; stored with the promotion in the history.

    Attributes:
        comparison_id: The comparison the evidence came from.
        verdict: GO, NO-GO or INCONCLUSIVE.
        checks: Every check, hard ones first.
        config: The thresholds used.
        queries_needed: For INCONCLUSIVE, about how many judged queries in total would decide
            (None when not estimable, or for GO and NO-GO).
        n_judged: Judged queries the comparison rests on.
        notes: The other metrics with Holm-adjusted p-values, reported only.
    """

    model_config = ConfigDict(frozen=True)

    comparison_id: str | None
    verdict: Verdict
    checks: tuple[GateCheck, ...]
    config: GateConfig
    queries_needed: int | None = None
    n_judged: int | None = None
    notes: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_passed(cls, data: Any) -> Any:
        return from_legacy_passed(data, "verdict", yes="GO", no="NO-GO")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """True for GO."""
        return self.verdict == "GO"

    @property
    def exit_code(self) -> int:
        """0 for GO, 1 for NO-GO, 3 for INCONCLUSIVE."""
        return EXIT_CODES[self.verdict]

    @property
    def reasons(self) -> list[str]:
        """The details of the checks that are not met (failed or undecided)."""
        return [c.detail for c in self.checks if not c.passed]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def more_queries(self) -> int | None:
        """Judged queries to add, for INCONCLUSIVE (``queries_needed − n_judged``)."""
        if self.queries_needed is None or self.n_judged is None:
            return None
        return max(1, self.queries_needed - self.n_judged)

    @property
    def summary(self) -> str:
        """One line: the verdict and what it rests on or what would change it."""
        if self.verdict == "GO":
            return f"GO: every check passed on comparison {self.comparison_id}"
        failing = [c for c in self.checks if c.outcome == "fail"] or [c for c in self.checks if not c.passed]
        head = f"{self.verdict}: {failing[0].detail}" if failing else self.verdict
        if self.verdict != "INCONCLUSIVE":
            return head
        if self.more_queries is None:
            return f"{head}. Judge more queries (the app's judging loop) and rerun `workbench compare`"
        return (
            f"{head}. About {self.more_queries} more judged queries ({self.queries_needed} in all) would "
            "likely decide: judge them (the app's judging loop) and rerun `workbench compare`"
        )


@dataclass(frozen=True)
class GateContext:
    """What the comparison must be about: this promotion, on the current data."""

    table: str
    baseline: VectorColumn
    candidate: VectorColumn
    corpus_digest: str


HardCheck = Callable[[GateConfig, "Comparison", GateContext], GateCheck]


def evaluate_gate(config: GateConfig, comparison: Comparison, context: GateContext) -> GateResult:
    """Run every hard, evidence and metric check and combine them; never raises for a failing check.

    Args:
        config: The thresholds.
        comparison: A stored comparison (``.id``, ``.manifest``, ``.deltas``).
        context: The table, the production (baseline) and candidate columns, and the digest
            of the table's current data.
    """
    checks = [check(config, comparison, context) for check in HARD_CHECKS]
    if config.require_index:
        checks.append(_index_check(comparison, config.min_index_recall))
    checks.append(_queries_check(config, comparison.manifest))
    checks += metric_checks(config, comparison.deltas, comparison_id=comparison.id)
    checks += segment_checks(config, comparison.segments, comparison_id=comparison.id)
    verdict, needed = combine(checks)
    return GateResult(
        comparison_id=comparison.id,
        verdict=verdict,
        checks=tuple(checks),
        config=config,
        queries_needed=needed,
        n_judged=comparison.manifest.n_judged,
        notes=tuple(secondary_notes(config, comparison.deltas)),
    )


def _table_check(config: GateConfig, comparison: Comparison, context: GateContext) -> GateCheck:
    table = comparison.manifest.table
    return GateCheck(
        name="table",
        outcome="pass" if table == context.table else "fail",
        detail=f"comparison is on table {table!r}, promotion on {context.table!r}",
    )


def _candidate_check(config: GateConfig, comparison: Comparison, context: GateContext) -> GateCheck:
    manifest = comparison.manifest
    return _column_check("candidate", manifest.candidate_column, manifest.candidate_pin, context.candidate)


def _baseline_check(config: GateConfig, comparison: Comparison, context: GateContext) -> GateCheck:
    manifest = comparison.manifest
    return _column_check("baseline", manifest.baseline_column, manifest.baseline_pin, context.baseline)


def _data_check(config: GateConfig, comparison: Comparison, context: GateContext) -> GateCheck:
    manifest = comparison.manifest
    if manifest.corpus_digest == context.corpus_digest:
        return GateCheck(
            name="data",
            outcome="pass",
            detail=f"made on the current data (table version {manifest.table_version})",
        )
    return GateCheck(
        name="data",
        outcome="fail",
        detail=f"the comparison ran on table version {manifest.table_version}; documents changed since "
        "(corpus digest differs): rerun `workbench compare` on the current data",
    )


#: The hard checks, in order; each returns one :class:`GateCheck` and a failure means NO-GO.
HARD_CHECKS: tuple[HardCheck, ...] = (_table_check, _candidate_check, _baseline_check, _data_check)


def _index_check(comparison: Comparison, floor: float) -> GateCheck:
    """The candidate's ANN index keeps at least ``floor`` of the exact top-k (``require_index``)."""
    evidence = comparison.manifest.index.get("candidate")
    if evidence is None:
        column = comparison.manifest.candidate_column
        return GateCheck(
            name="index recall",
            outcome="fail",
            detail=f"the gate requires an indexed candidate, but comparison {comparison.id} measured no "
            f"index on {column}: run `workbench index {column}`, then `workbench compare` again",
        )
    recall, k = float(evidence["recall"]), evidence["k"]
    passed = math.isfinite(recall) and recall >= floor
    verdict = "≥" if passed else "is below"
    return GateCheck(
        name="index recall",
        outcome="pass" if passed else "fail",
        detail=f"index recall@{k} of the candidate ({evidence['index']}) {recall:.3f} {verdict} {floor:.3f}",
    )


def _queries_check(config: GateConfig, manifest: Manifest) -> GateCheck:
    judged = manifest.n_judged
    enough = judged >= config.min_queries
    return GateCheck(
        name="queries",
        outcome="pass" if enough else "undecided",
        detail=f"{judged} judged queries (gate needs at least {config.min_queries})",
        queries_needed=None if enough else config.min_queries,
    )


def _column_check(role: str, name: str, pin: object, column: VectorColumn) -> GateCheck:
    same_pin = _pin_fingerprint(pin) in (None, column.ref.fingerprint)
    if name == column.name and same_pin:
        return GateCheck(name=role, outcome="pass", detail=f"{role} is {column.name} ({column.ref.pin})")
    needed = "the current production column" if role == "baseline" else "the column to promote"
    return GateCheck(
        name=role,
        outcome="fail",
        detail=f"the comparison's {role} is {name}, but {needed} is {column.name} ({column.ref.pin}); "
        f"run `workbench compare` with {role} {column.name}",
    )


def _pin_fingerprint(pin: object) -> str | None:
    if isinstance(pin, dict):
        return pin.get("fingerprint")
    return None
