"""Monitoring thresholds and schedule: ``<workspace>/monitor.toml`` (or ``--monitor-config FILE``).

Every setting has a default a careful team would start from; a file sets only what differs:

```toml
eval_set = "demo"            # default: the table's only eval set
metrics = ["ndcg@10", "recall@10"]
baseline_passes = 3          # passes right after a production move that form the baseline
min_metric_drop = 0.02       # alarm: mean drop at least this, and the 95% CI of the drop excludes 0
score_alpha = 0.001          # alarm: KS p-value below this (Bonferroni over the score features) ...
score_min_effect = 0.2       # ... and a KS statistic at least this
sample_size = 500            # logged queries sampled per pass
min_log_queries = 50         # fewer logged queries in the window → score the eval queries instead
log_window = "24h"           # how far back a pass reads the query log
max_stale_rows = 0           # alarm: more missing or stale rows of the production column than this
min_index_recall = 0.9       # alarm: ANN recall@k against exact search below this
retire_after = "7d"          # retire columns out of production this long; "" turns it off
cleanup = true               # compact and prune versions no tag needs, after the grace period
warn_days = 90               # alarm: production's model sunsets within this many days
watch_every = ""             # re-evaluate the candidates this often, e.g. "90d" (quarterly); "" off
watch_candidates = []        # aliases or columns to watch (default: every other embedded column)
watch_metric = "ndcg@10"     # the deciding metric of the watch
watch_margin = 0.0           # alarm: a candidate beats production by more than this, CI excluding 0
```
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from workbench.errors import ConfigError, InvalidArgumentError, NotFoundError
from workbench.metrics.labelled import parse_metric
from workbench.production.retire import parse_duration

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = [
    "MONITOR_FILE",
    "MonitorConfig",
    "load_monitor_config",
    "parse_monitor_config",
    "workspace_monitor_config",
]


MONITOR_FILE = "monitor.toml"


class MonitorConfig(BaseModel):
    """Thresholds of a monitoring pass (see the module docstring for each setting)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    eval_set: str | None = None
    metrics: tuple[str, ...] = ("ndcg@10", "recall@10")
    baseline_passes: int = 3
    min_metric_drop: float = 0.02
    score_alpha: float = 0.001
    score_min_effect: float = 0.2
    sample_size: int = 500
    min_log_queries: int = 50
    log_window: str = "24h"
    max_stale_rows: int = 0
    min_index_recall: float = 0.9
    retire_after: str = "7d"
    cleanup: bool = True
    warn_days: int = 90
    watch_every: str = ""
    watch_candidates: tuple[str, ...] = ()
    watch_metric: str = "ndcg@10"
    watch_margin: float = 0.0

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("metrics must name at least one metric, e.g. ['ndcg@10']")
        for name in value:
            parse_metric(name)
        return value

    @field_validator("baseline_passes", "sample_size", "min_log_queries")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value

    @field_validator("score_alpha")
    @classmethod
    def _probability(cls, value: float) -> float:
        if not 0.0 < value < 1.0:
            raise ValueError(f"must be in (0, 1), got {value}")
        return value

    @field_validator("watch_metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        parse_metric(value)
        return value

    @field_validator(
        "min_metric_drop",
        "score_min_effect",
        "min_index_recall",
        "max_stale_rows",
        "warn_days",
        "watch_margin",
    )
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError(f"must not be negative, got {value}")
        return value

    @field_validator("log_window", "retire_after", "watch_every")
    @classmethod
    def _duration(cls, value: str) -> str:
        if value.strip():
            parse_duration(value)
        return value

    @property
    def k(self) -> int:
        """The deepest cutoff the metrics need (at least 10, for the score margin)."""
        return max(10, *(parse_metric(m)[1] for m in self.metrics))

    @property
    def window(self) -> timedelta:
        return parse_duration(self.log_window)

    @property
    def grace(self) -> timedelta | None:
        """The retirement grace period, or None when scheduled retirement is off."""
        return parse_duration(self.retire_after) if self.retire_after.strip() else None


def load_monitor_config(path: str | Path) -> MonitorConfig:
    """Read a monitor TOML file.

    Raises:
        NotFoundError: the file does not exist.
        ConfigError: it is not valid TOML, or a setting is unknown or out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(
            f"monitor config {str(path)!r} does not exist; the format is in `workbench monitor --help`"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_monitor_config(raw, origin=str(path))


def parse_monitor_config(raw: dict[str, object], *, origin: str = "monitor config") -> MonitorConfig:
    """Validate settings; the error names the setting, the value and what is allowed."""
    try:
        return MonitorConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{origin}: setting {where!r}: {message}") from exc
    except InvalidArgumentError as exc:
        raise ConfigError(f"{origin}: {exc}") from exc


def workspace_monitor_config(ws: Workspace) -> MonitorConfig:
    """``<workspace>/monitor.toml`` when there is one, else the defaults."""
    path = Path(ws.uri) / MONITOR_FILE
    return load_monitor_config(path) if ws.is_local and path.is_file() else MonitorConfig()
