"""The statistical half of the gate: GO, NO-GO or INCONCLUSIVE from the paired deltas.

Each metric rule is read off the delta's 95% interval, which inverts the sign-flip test
(:mod:`workbench.metrics.paired`), so every reading is a named test:

- the **primary** metric (one, pre-registered in ``gate.toml``): *non-inferiority* at the
  margin — passes when the interval's low end is at least ``-margin`` (the one-sided test of
  "worse by the margin or more" rejects at 2.5%); *shown worse* when the interval's high end
  is below ``-margin``. With ``superiority = true`` it must also be shown better (low end > 0),
  and an interval entirely at or below 0 shows it is not.
- other ``min_ci_low`` rules read the same way; a ``min_delta`` rule passes on its point
  estimate and is shown violated when the interval's high end is below it.

A rule that is neither passed nor shown violated is *undecided*; the verdict is NO-GO when any
check failed, else INCONCLUSIVE when any is undecided, else GO. For INCONCLUSIVE the gate
estimates how many judged queries in total would decide (normal approximation with the observed
per-query standard deviation, 80% power, the observed delta taken as the truth), since that is
the cheapest way out: judge more queries, rerun the comparison.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field, model_validator

from workbench.formatting import interval, number, p_value
from workbench.gate.config import GateConfig
from workbench.metrics.multiple import adjusted_p

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GateCheck",
    "Outcome",
    "Verdict",
    "combine",
    "from_legacy_passed",
    "metric_checks",
    "queries_to_decide",
    "secondary_notes",
]

Verdict = Literal["GO", "NO-GO", "INCONCLUSIVE"]
Outcome = Literal["pass", "fail", "undecided"]


def from_legacy_passed(data: Any, field: str, *, yes: str, no: str) -> Any:
    """Raw model input with a pre-three-valued ``passed`` turned into ``field`` (``yes``/``no``).

    History written before the three-valued gate stored only ``passed``; ``passed`` and
    ``more_queries`` are derived now, so they are dropped from what is validated.
    """
    if not isinstance(data, dict):
        return data
    if field not in data and "passed" in data:
        data = {**data, field: yes if data["passed"] else no}
    return {k: v for k, v in data.items() if k not in ("passed", "more_queries")}


_ALPHA = 0.05
_POWER = 0.8
_Z = NormalDist().inv_cdf(1 - _ALPHA / 2) + NormalDist().inv_cdf(_POWER)
# The stored MDE is z·sd/√n for alpha 0.05 and power 0.8, the same constant.
_MAX_QUERIES = 1_000_000


class GateCheck(BaseModel):
    """One check: its name (``data``, ``ndcg@10 non-inferiority``, …), its outcome and why.

    ``queries_needed`` is, for an undecided statistical check, the total number of judged
    queries estimated to decide it (None when it cannot be estimated).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    outcome: Outcome
    detail: str
    queries_needed: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_passed(cls, data: Any) -> Any:
        return from_legacy_passed(data, "outcome", yes="pass", no="fail")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """True when the check is met."""
        return self.outcome == "pass"


def metric_checks(
    config: GateConfig, deltas: pd.DataFrame, *, comparison_id: str | None = None
) -> list[GateCheck]:
    """The primary check, then one check per other rule, read off the stored deltas.

    Args:
        config: The gate.
        deltas: Per metric (index): ``delta``, ``ci_low``, ``ci_high``, and ``n`` and ``mde``
            for the queries-to-decide estimate (as stored by ``compare``).
        comparison_id: Named in the message when a metric is missing.
    """
    checks = [_primary_check(config, deltas, comparison_id)]
    for metric, threshold in config.min_ci_low.items():
        if metric != config.primary:
            checks.append(_rule_check(deltas, metric, "ci_low", threshold, comparison_id))
    for metric, threshold in config.min_delta.items():
        checks.append(_rule_check(deltas, metric, "delta", threshold, comparison_id))
    return checks


def combine(checks: Iterable[GateCheck]) -> tuple[Verdict, int | None]:
    """The verdict of a set of checks, and for INCONCLUSIVE the judged queries that would decide.

    The number is the largest estimate over the undecided checks (None if one cannot be
    estimated, or for GO and NO-GO).
    """
    checks = list(checks)
    if any(c.outcome == "fail" for c in checks):
        return "NO-GO", None
    undecided = [c for c in checks if c.outcome == "undecided"]
    if not undecided:
        return "GO", None
    needed = [c.queries_needed for c in undecided]
    return "INCONCLUSIVE", None if any(n is None for n in needed) else max(n for n in needed if n is not None)


def queries_to_decide(*, delta: float, sd: float, bound: float) -> int | None:
    """Judged queries for a 95% interval to clear ``bound`` on the side the delta is on (80% power).

    ``n = ((z_0.975 + z_0.8) · sd / (delta − bound))²``: the sample size at which the observed
    difference from the bound would be detected four times in five, if it is the true one.
    None when the delta sits on the bound or the spread is unknown.
    """
    gap = abs(delta - bound)
    if not (math.isfinite(sd) and math.isfinite(gap)) or gap == 0.0:
        return None
    if sd == 0.0:
        return 2
    return min(_MAX_QUERIES, max(2, math.ceil((_Z * sd / gap) ** 2)))


def secondary_notes(config: GateConfig, deltas: pd.DataFrame) -> list[str]:
    """One line per metric other than the primary: delta, interval, Holm-adjusted p (reported only)."""
    if "p_permutation" not in deltas.columns or deltas.empty:
        return []
    adjusted = adjusted_p(deltas, primary=config.primary).to_numpy()
    lines = []
    for (metric, row), p_holm in zip(deltas.iterrows(), adjusted, strict=True):
        if metric == config.primary:
            continue
        lines.append(
            f"{metric}: {number(row['delta'], signed=True)} {interval(row['ci_low'], row['ci_high'])}, "
            f"Holm-adjusted p {p_value(p_holm)} (reported, not part of the verdict)"
        )
    return lines


def _primary_check(config: GateConfig, deltas: pd.DataFrame, comparison_id: str | None) -> GateCheck:
    metric, floor = config.primary, -config.margin
    name = f"{metric} {'superiority' if config.superiority else 'non-inferiority'}"
    missing = _missing(deltas, metric, name, comparison_id)
    if missing is not None:
        return missing
    delta, low, high = (float(deltas.loc[metric, c]) for c in ("delta", "ci_low", "ci_high"))
    bound = max(floor, 0.0) if config.superiority else floor
    shown_ci = f"{metric} {_s4(delta)}, 95% interval {interval(low, high, 4)} (inverted sign-flip test)"
    claim = _claim(floor) + (" and better" if config.superiority and floor < 0 else "")
    if math.isfinite(low) and low >= bound and (not config.superiority or low > 0):
        return GateCheck(name=name, outcome="pass", detail=f"{shown_ci}: shown {claim}")
    if high < floor:
        shown = f"worse by more than the margin {-floor:.4f}" if floor < 0 else f"not {_claim(floor)}"
        return GateCheck(name=name, outcome="fail", detail=f"{shown_ci}: shown {shown}")
    if config.superiority and high <= 0:
        return GateCheck(
            name=name, outcome="fail", detail=f"{shown_ci}: shown not better (superiority required)"
        )
    return GateCheck(
        name=name,
        outcome="undecided",
        detail=f"{shown_ci}: shown neither {claim} nor the opposite",
        queries_needed=_needed(deltas.loc[metric], bound if delta >= bound else floor),
    )


def _s4(value: float) -> str:
    """A gate figure: four decimals, signed, never a negative zero."""
    return number(value, 4, signed=True)


def _claim(floor: float) -> str:
    if floor < 0:
        return f"not worse by more than {-floor:.4f}"
    return "at least as good" if floor == 0 else f"better by at least {floor:.4f}"


def _rule_check(
    deltas: pd.DataFrame,
    metric: str,
    stat: Literal["ci_low", "delta"],
    threshold: float,
    comparison_id: str | None,
) -> GateCheck:
    name = f"{metric} {stat}"
    missing = _missing(deltas, metric, name, comparison_id)
    if missing is not None:
        return missing
    row = deltas.loc[metric]
    value, high = float(row[stat]), float(row.get("ci_high", math.nan))
    what = "CI lower bound of the delta" if stat == "ci_low" else "delta"
    if math.isfinite(value) and value >= threshold:
        return GateCheck(
            name=name,
            outcome="pass",
            detail=f"{metric}: {what} {_s4(value)} ≥ {_s4(threshold)}",
        )
    if high < threshold:
        return GateCheck(
            name=name,
            outcome="fail",
            detail=f"{metric}: {what} {_s4(value)} is below {_s4(threshold)}, "
            f"and so is the whole 95% interval (high end {_s4(high)})",
        )
    return GateCheck(
        name=name,
        outcome="undecided",
        detail=f"{metric}: {what} {_s4(value)} is below {_s4(threshold)}, "
        f"but the 95% interval reaches {_s4(high)}: not shown either way",
        queries_needed=_needed(row, threshold),
    )


def _missing(deltas: pd.DataFrame, metric: str, name: str, comparison_id: str | None) -> GateCheck | None:
    if metric in deltas.index:
        return None
    measured = ", ".join(map(str, deltas.index)) or "none (no judged queries)"
    return GateCheck(
        name=name,
        outcome="fail",
        detail=f"{metric}: not measured by comparison {comparison_id} (it has: {measured}); "
        f"rerun `workbench compare` with that cutoff in --k",
    )


def _needed(row: pd.Series, bound: float) -> int | None:
    """Total judged queries to decide against ``bound``, from the stored n and MDE (sd = MDE·√n / z)."""
    n, mde = float(row.get("n", math.nan)), float(row.get("mde", math.nan))
    if not (math.isfinite(n) and math.isfinite(mde)) or n < 2:
        return None
    sd = mde * math.sqrt(n) / _Z
    needed = queries_to_decide(delta=float(row["delta"]), sd=sd, bound=bound)
    return None if needed is None else max(needed, int(n) + 1)
