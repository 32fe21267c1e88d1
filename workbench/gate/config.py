"""The gate's settings: ``<workspace>/gate.toml``, validated once, as a frozen model.

The defaults are what a careful team would start from: the **primary** metric nDCG@10 must
not be worse by more than 0.01 (the lower end of its 95% interval at least -0.01: a one-sided
non-inferiority test at that margin), recall@100 not lower by more than 0.01, at least 30
judged queries. A team sets its own:

```toml
primary = "ndcg@10"    # the one pre-registered metric the verdict rests on
superiority = false    # true: GO also needs the primary metric shown better (interval above 0)
min_queries = 50
[min_ci_low]
"ndcg@10" = -0.01      # the primary's non-inferiority margin, as the lowest allowed CI low end
[min_delta]
"recall@100" = -0.005  # guard rails on other metrics
"mrr@10" = -0.01
```

A segment of the queries can be a guard rail of its own: ``segments = { language = "de" }``
(a value or a list of values per query-metadata key) holds the primary metric on each named
segment to ``segment_margin`` (default 0.05: the segment's interval low end at least −0.05),
read off the comparison's per-segment statistics.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from workbench.errors import ConfigError, InvalidArgumentError, NotFoundError, WorkbenchError
from workbench.metrics.labelled import parse_metric
from workbench.metrics.multiple import DEFAULT_PRIMARY

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = ["GATE_FILE", "GateConfig", "load_gate_config", "workspace_gate"]

GATE_FILE = "gate.toml"


class GateConfig(BaseModel):
    """Thresholds a comparison must meet. Metric names are ``family@k`` (``ndcg@10``).

    Attributes:
        primary: The pre-registered metric the statistical verdict rests on; it needs a
            ``min_ci_low`` threshold, which is its non-inferiority margin (``-0.01``: not worse
            by more than 0.01). One metric, so the verdict is not a many-metric lottery.
        superiority: Also require the primary metric to be shown better (interval above 0).
        min_ci_low: Metric → lowest allowed lower end of the delta's 95% interval.
        min_delta: Metric → lowest allowed delta (candidate − baseline), a guard rail.
        min_queries: Fewest judged queries a verdict may rest on (fewer: INCONCLUSIVE).
        require_index: The candidate column must be indexed, with the index's recall measured
            by the comparison (production serves through the index).
        min_index_recall: Lowest allowed recall@k of the candidate's index against the exact
            search (with ``require_index``).
        segments: Query-metadata key → segment value (or list of values) that must each pass
            the primary metric's non-inferiority at ``segment_margin`` (``{"language": "de"}``).
        segment_margin: How much worse the primary metric may be on a guarded segment
            (positive; the segment's interval low end must be at least its negative).

    Raises:
        InvalidArgumentError: an unknown setting or metric name, a non-finite threshold, no metric
            rule at all, a primary metric without a ``min_ci_low`` margin, or ``min_queries`` < 1
            (directly at construction, not wrapped).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    primary: str = DEFAULT_PRIMARY
    superiority: bool = False
    min_ci_low: dict[str, float] = {DEFAULT_PRIMARY: -0.01}
    min_delta: dict[str, float] = {"recall@100": -0.01}
    min_queries: int = 30
    require_index: bool = False
    min_index_recall: float = 0.95
    segments: dict[str, str | list[str]] = {}
    segment_margin: float = 0.05

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _invalid(exc) from exc

    @field_validator("min_index_recall")
    @classmethod
    def _recall_in_range(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise InvalidArgumentError(f"gate min_index_recall must be between 0 and 1, got {value}")
        return value

    @field_validator("segment_margin")
    @classmethod
    def _margin_positive(cls, value: float) -> float:
        if not (math.isfinite(value) and value >= 0.0):
            raise InvalidArgumentError(
                f"gate segment_margin must be a finite number >= 0 (0.05: not worse by more "
                f"than 0.05), got {value}"
            )
        return value

    @field_validator("segments")
    @classmethod
    def _segments_named(cls, rules: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for key, values in rules.items():
            if not key or (isinstance(values, list) and not values):
                raise InvalidArgumentError(
                    f"gate segments: {key!r} needs a segment value or a list of them, "
                    'e.g. segments = { language = "de" } or { language = ["de", "fr"] }'
                )
        return rules

    @property
    def guarded_segments(self) -> list[tuple[str, str]]:
        """Every (key, value) pair of ``segments``, in order."""
        pairs = []
        for key, values in self.segments.items():
            pairs += [(key, str(v)) for v in (values if isinstance(values, list) else [values])]
        return pairs

    @field_validator("primary")
    @classmethod
    def _primary_known(cls, name: str) -> str:
        try:
            family, k = parse_metric(name)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"gate primary: {exc}") from exc
        return f"{family}@{k}"

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
        if self.primary not in self.min_ci_low:
            raise InvalidArgumentError(
                f"gate primary metric {self.primary!r} needs a non-inferiority margin in [min_ci_low], "
                f'e.g. "{self.primary}" = -0.01 (not worse by more than 0.01); it has '
                f"{sorted(self.min_ci_low) or 'none'}"
            )

    @property
    def margin(self) -> float:
        """The primary metric's non-inferiority margin (positive: how much worse is tolerated)."""
        return -self.min_ci_low[self.primary]

    @property
    def metrics(self) -> list[str]:
        """Every metric the gate reads, primary first, then in rule order."""
        return list(dict.fromkeys([self.primary, *self.min_ci_low, *self.min_delta]))


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
