"""The promotion gate: what a stored comparison must show before a column becomes production.

A gate has two kinds of checks. *Evidence* checks make sure the comparison is about this
promotion: the same table, the candidate column against the current production column (same
pins), on the current data (same corpus digest), with enough judged queries. *Metric* checks
bound the paired deltas (candidate − baseline): ``min_ci_low`` on the lower end of the 95%
bootstrap interval (non-inferiority: "we are confident it is not worse by more than this"),
``min_delta`` on the point estimate (a tolerance).

The defaults are what a careful team would start from: nDCG@10 not worse by more than 0.01 at
the low end of its confidence interval, recall@100 not lower by more than 0.01, at least 30
judged queries. A team sets its own in ``<workspace>/gate.toml``:

```toml
min_queries = 50
[min_ci_low]
"ndcg@10" = 0.0        # must be at least as good, with confidence
[min_delta]
"recall@100" = -0.005
"mrr@10" = -0.01
```
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from workbench.errors import ConfigError, InvalidArgumentError, NotFoundError, WorkbenchError
from workbench.metrics.labelled import parse_metric

if TYPE_CHECKING:
    from workbench.store.comparisons import Comparison, Manifest
    from workbench.store.workspace import VectorColumn, Workspace

__all__ = [
    "GATE_FILE",
    "GateCheck",
    "GateConfig",
    "GateContext",
    "GateResult",
    "Stat",
    "evaluate_gate",
    "load_gate_config",
    "workspace_gate",
]

GATE_FILE = "gate.toml"
Stat = Literal["ci_low", "delta"]


class GateConfig(BaseModel):
    """Thresholds a comparison must meet. Metric names are ``family@k`` (``ndcg@10``).

    Attributes:
        min_ci_low: Metric → lowest allowed lower bound of the delta's 95% CI.
        min_delta: Metric → lowest allowed delta (candidate − baseline).
        min_queries: Fewest judged queries a comparison may rest on.

    Raises:
        InvalidArgumentError: an unknown setting or metric name, a non-finite threshold, no metric
            rule at all, or ``min_queries`` < 1 (directly at construction, not wrapped).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_ci_low: dict[str, float] = {"ndcg@10": -0.01}
    min_delta: dict[str, float] = {"recall@100": -0.01}
    min_queries: int = 30

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _invalid(exc) from exc

    @field_validator("min_ci_low", "min_delta")
    @classmethod
    def _metrics_known(cls, rules: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        canonical = {}
        for name, threshold in rules.items():
            try:
                family, k = parse_metric(name)
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"gate {info.field_name}: {exc}") from exc
            if not math.isfinite(threshold):
                raise InvalidArgumentError(
                    f"gate {info.field_name}: threshold for {name!r} must be a finite number, got {threshold}"
                )
            canonical[f"{family}@{k}"] = float(threshold)
        return canonical

    @field_validator("min_queries")
    @classmethod
    def _min_queries_positive(cls, value: int) -> int:
        if value < 1:
            raise InvalidArgumentError(f"gate min_queries must be at least 1, got {value}")
        return value

    def model_post_init(self, context: Any) -> None:
        if not self.min_ci_low and not self.min_delta:
            raise InvalidArgumentError(
                "a gate needs at least one metric rule (min_ci_low or min_delta); to promote "
                "without evidence use --force with a --reason"
            )

    @property
    def metrics(self) -> list[str]:
        """Every metric the gate reads, in rule order."""
        return list(dict.fromkeys([*self.min_ci_low, *self.min_delta]))


class GateCheck(BaseModel):
    """One check: its name (``data``, ``ndcg@10 ci_low``, …), the verdict and why."""

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str


class GateResult(BaseModel):
    """Every check of one gate evaluation; stored with the promotion in the history."""

    model_config = ConfigDict(frozen=True)

    comparison_id: str | None
    passed: bool
    checks: tuple[GateCheck, ...]
    config: GateConfig

    @property
    def reasons(self) -> list[str]:
        """The details of the failing checks."""
        return [c.detail for c in self.checks if not c.passed]


@dataclass(frozen=True)
class GateContext:
    """What the comparison must be about: this promotion, on the current data."""

    table: str
    baseline: VectorColumn
    candidate: VectorColumn
    corpus_digest: str


def evaluate_gate(config: GateConfig, comparison: Comparison, context: GateContext) -> GateResult:
    """Run every evidence and metric check; never raises for a failing check.

    Args:
        config: The thresholds.
        comparison: A stored comparison (``.id``, ``.manifest``, ``.deltas``).
        context: The table, the production (baseline) and candidate columns, and the digest
            of the table's current data.
    """
    checks = [*_evidence_checks(config, comparison.manifest, context)]
    for metric, threshold in config.min_ci_low.items():
        checks.append(_metric_check(comparison, metric, "ci_low", threshold))
    for metric, threshold in config.min_delta.items():
        checks.append(_metric_check(comparison, metric, "delta", threshold))
    return GateResult(
        comparison_id=comparison.id,
        passed=all(c.passed for c in checks),
        checks=tuple(checks),
        config=config,
    )


def load_gate_config(path: str | Path) -> GateConfig:
    """Read a gate TOML file (see the module docstring).

    Raises:
        NotFoundError: the file does not exist.
        ConfigError: it is not valid TOML.
        InvalidArgumentError: an unknown setting or metric name, or a bad threshold.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(
            f"gate file {str(path)!r} does not exist; the format is in `workbench promote --help`"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return GateConfig(**raw)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{path}: {exc}") from exc


def workspace_gate(ws: Workspace) -> GateConfig:
    """The workspace's gate: ``<workspace>/gate.toml`` when there is one, else the defaults."""
    path = Path(ws.uri) / GATE_FILE
    return load_gate_config(path) if ws.is_local and path.is_file() else GateConfig()


def _evidence_checks(config: GateConfig, manifest: Manifest, context: GateContext) -> list[GateCheck]:
    judged = manifest.n_judged
    return [
        GateCheck(
            name="table",
            passed=manifest.table == context.table,
            detail=f"comparison is on table {manifest.table!r}, promotion on {context.table!r}",
        ),
        _column_check("candidate", manifest.candidate_column, manifest.candidate_pin, context.candidate),
        _column_check("baseline", manifest.baseline_column, manifest.baseline_pin, context.baseline),
        _data_check(manifest, context.corpus_digest),
        GateCheck(
            name="queries",
            passed=judged >= config.min_queries,
            detail=f"{judged} judged queries (gate needs at least {config.min_queries})",
        ),
    ]


def _column_check(role: str, name: str, pin: object, column: VectorColumn) -> GateCheck:
    same_pin = _pin_fingerprint(pin) in (None, column.ref.fingerprint)
    if name == column.name and same_pin:
        return GateCheck(name=role, passed=True, detail=f"{role} is {column.name} ({column.ref.pin})")
    needed = "the current production column" if role == "baseline" else "the column to promote"
    return GateCheck(
        name=role,
        passed=False,
        detail=f"the comparison's {role} is {name}, but {needed} is {column.name} ({column.ref.pin}); "
        f"run `workbench compare` with {role} {column.name}",
    )


def _pin_fingerprint(pin: object) -> str | None:
    if isinstance(pin, dict):
        return pin.get("fingerprint")
    return None


def _data_check(manifest: Manifest, digest: str) -> GateCheck:
    if manifest.corpus_digest == digest:
        return GateCheck(
            name="data",
            passed=True,
            detail=f"made on the current data (table version {manifest.table_version})",
        )
    return GateCheck(
        name="data",
        passed=False,
        detail=f"the comparison ran on table version {manifest.table_version}; documents changed since "
        "(corpus digest differs): rerun `workbench compare` on the current data",
    )


def _metric_check(comparison: Comparison, metric: str, stat: Stat, threshold: float) -> GateCheck:
    name = f"{metric} {stat}"
    what = "CI lower bound of the delta" if stat == "ci_low" else "delta"
    if metric not in comparison.deltas.index:
        measured = ", ".join(map(str, comparison.deltas.index)) or "none (no judged queries)"
        return GateCheck(
            name=name,
            passed=False,
            detail=f"{metric}: not measured by comparison {comparison.id} (it has: {measured}); "
            f"rerun `workbench compare` with that cutoff in --k",
        )
    value = float(comparison.deltas.loc[metric, stat])
    passed = math.isfinite(value) and value >= threshold
    verdict = "≥" if passed else "is below"
    return GateCheck(
        name=name, passed=passed, detail=f"{metric}: {what} {value:+.4f} {verdict} {threshold:+.4f}"
    )


def _invalid(exc: ValidationError) -> WorkbenchError:
    """The first WorkbenchError behind a pydantic error, or an InvalidArgumentError naming the key."""
    for error in exc.errors():
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, WorkbenchError):
            return cause
    allowed = ", ".join(GateConfig.model_fields)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "gate"
    if first.get("type") == "extra_forbidden":
        return InvalidArgumentError(f"unknown gate setting {where!r}; allowed settings: {allowed}")
    return InvalidArgumentError(f"gate setting {where!r}: {first.get('msg')} (allowed settings: {allowed})")
