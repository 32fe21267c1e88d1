"""The gate's verdict as pure logic: GO / NO-GO / INCONCLUSIVE, the statistics it rests on, and
the estimate of how many judged queries would decide."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from workbench.errors import InvalidArgumentError
from workbench.gate.calibration import calibrate_gate, gate_verdict, summarise_calibration
from workbench.gate.config import GateConfig
from workbench.gate.evaluate import EXIT_CODES, GateResult
from workbench.gate.verdict import GateCheck, combine, metric_checks, queries_to_decide

Z = scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(0.8)


def _deltas(**rows: tuple[float, float, float]) -> pd.DataFrame:
    """metric=(delta, ci_low, ci_high), with n=30 and an MDE for sd 0.1."""
    frame = pd.DataFrame(rows, index=["delta", "ci_low", "ci_high"]).T
    frame.index = [name.replace("_at_", "@") for name in frame.index]
    return frame.assign(n=30, mde=Z * 0.1 / math.sqrt(30), p_permutation=0.5)


@pytest.mark.parametrize(
    ("primary", "outcome", "verdict"),
    [
        ((0.05, 0.01, 0.09), "pass", "GO"),
        ((-0.005, -0.009, -0.001), "pass", "GO"),  # worse, but shown within the 0.01 margin
        ((-0.08, -0.12, -0.03), "fail", "NO-GO"),  # shown worse by more than the margin
        ((0.01, -0.03, 0.05), "undecided", "INCONCLUSIVE"),
        ((-0.03, -0.07, 0.01), "undecided", "INCONCLUSIVE"),
        ((0.2, -math.inf, math.inf), "undecided", "INCONCLUSIVE"),  # too few queries differ
    ],
)
def test_primary_non_inferiority_three_ways(primary: tuple, outcome: str, verdict: str) -> None:
    config = GateConfig(min_delta={})
    checks = metric_checks(config, _deltas(ndcg_at_10=primary))
    assert [(c.name, c.outcome) for c in checks] == [("ndcg@10 non-inferiority", outcome)]
    assert combine(checks)[0] == verdict
    assert "inverted sign-flip test" in checks[0].detail


def test_superiority_needs_the_interval_above_zero() -> None:
    config = GateConfig(min_delta={}, superiority=True)
    assert metric_checks(config, _deltas(ndcg_at_10=(0.03, 0.001, 0.06)))[0].outcome == "pass"
    within = metric_checks(config, _deltas(ndcg_at_10=(0.0, -0.005, 0.005)))[0]
    assert (within.name, within.outcome) == ("ndcg@10 superiority", "undecided")
    below = metric_checks(config, _deltas(ndcg_at_10=(-0.004, -0.008, -0.001)))[0]
    assert below.outcome == "fail" and "shown not better" in below.detail


def test_guard_rails_fail_only_when_the_whole_interval_is_below() -> None:
    config = GateConfig(min_ci_low={"ndcg@10": -0.01, "mrr@10": -0.02}, min_delta={"recall@100": -0.01})
    deltas = _deltas(
        ndcg_at_10=(0.05, 0.01, 0.09), mrr_at_10=(0.0, -0.03, 0.03), recall_at_100=(-0.05, -0.08, -0.02)
    )
    outcomes = {c.name: c.outcome for c in metric_checks(config, deltas)}
    assert outcomes == {
        "ndcg@10 non-inferiority": "pass",
        "mrr@10 ci_low": "undecided",
        "recall@100 delta": "fail",
    }
    deltas.loc["recall@100"] = [-0.02, -0.05, 0.01, 30, deltas.loc["recall@100", "mde"], 0.5]
    assert {c.name: c.outcome for c in metric_checks(config, deltas)}["recall@100 delta"] == "undecided"


def test_inconclusive_says_how_many_queries_would_decide() -> None:
    # delta 0.01 above a -0.01 floor with sd 0.1: n = (z · 0.1 / 0.02)² ≈ 197 judged queries.
    checks = metric_checks(GateConfig(min_delta={}), _deltas(ndcg_at_10=(0.01, -0.03, 0.05)))
    verdict, needed = combine(checks)
    assert verdict == "INCONCLUSIVE" and needed == math.ceil((Z * 0.1 / 0.02) ** 2) == 197
    result = GateResult(
        comparison_id="c",
        verdict=verdict,
        checks=tuple(checks),
        config=GateConfig(),
        queries_needed=needed,
        n_judged=30,
    )
    assert result.more_queries == 167 and result.exit_code == 3 and not result.passed
    assert "About 167 more judged queries (197 in all) would likely decide" in result.summary


def test_queries_to_decide_formula_and_edges() -> None:
    assert queries_to_decide(delta=0.05, sd=0.1, bound=-0.01) == math.ceil((Z * 0.1 / 0.06) ** 2)
    assert queries_to_decide(delta=-0.01, sd=0.1, bound=-0.01) is None  # on the bound: never decides
    assert queries_to_decide(delta=0.05, sd=math.nan, bound=0.0) is None
    assert queries_to_decide(delta=0.05, sd=0.0, bound=0.0) == 2


def test_combine_no_go_beats_inconclusive_beats_go() -> None:
    ok = GateCheck(name="a", outcome="pass", detail="")
    maybe = GateCheck(name="b", outcome="undecided", detail="", queries_needed=80)
    unknown = GateCheck(name="c", outcome="undecided", detail="")
    bad = GateCheck(name="d", outcome="fail", detail="")
    assert combine([ok]) == ("GO", None)
    assert combine([ok, maybe]) == ("INCONCLUSIVE", 80)
    assert combine([maybe, unknown]) == ("INCONCLUSIVE", None)
    assert combine([maybe, bad, ok]) == ("NO-GO", None)
    assert EXIT_CODES == {"GO": 0, "NO-GO": 1, "INCONCLUSIVE": 3}


def test_history_written_before_the_verdict_still_loads() -> None:
    old = (
        '{"comparison_id":"c","passed":false,"checks":[{"name":"ndcg@10 ci_low","passed":false,'
        '"detail":"x"}],"config":{"min_ci_low":{"ndcg@10":-0.01},"min_delta":{},"min_queries":30}}'
    )
    result = GateResult.model_validate_json(old)
    assert (result.verdict, result.checks[0].outcome, result.passed) == ("NO-GO", "fail", False)
    again = GateResult.model_validate_json(result.model_dump_json())
    assert again == result and result.model_dump()["passed"] is False


def test_gate_verdict_on_per_query_values() -> None:
    rng = np.random.default_rng(0)
    index = [f"q{i}" for i in range(60)]
    base = pd.DataFrame(
        {"ndcg@10": rng.uniform(0.2, 0.6, 60), "recall@100": rng.uniform(0.5, 1, 60)}, index=index
    )
    better = base + 0.08 + rng.normal(0, 0.05, (60, 2))
    assert gate_verdict(GateConfig(), base, better)[0] == "GO"
    assert gate_verdict(GateConfig(), better, base)[0] == "NO-GO"
    verdict, needed = gate_verdict(GateConfig(min_queries=100), base, better)
    assert (verdict, needed) == ("INCONCLUSIVE", 100)


def test_calibration_refuses_bad_input() -> None:
    frame = pd.DataFrame({"ndcg@10": [0.1, 0.2, 0.3]}, index=["a", "b", "c"])
    with pytest.raises(InvalidArgumentError, match="must cover the same queries"):
        calibrate_gate(frame, frame.rename(index={"a": "z"}), GateConfig(min_delta={}))
    with pytest.raises(InvalidArgumentError, match=r"size must be in \[2, 2\] for 3 queries, got 3"):
        calibrate_gate(frame, frame, GateConfig(min_delta={}), size=3)


def test_calibration_summary_counts_wrong_verdicts_with_an_upper_bound() -> None:
    runs = pd.DataFrame(
        {
            "direction": ["better over worse"] * 4,
            "verdict": ["GO", "NO-GO", "INCONCLUSIVE", "INCONCLUSIVE"],
            "wrong": [False, True, False, False],
            "added": [0, 0, 40, 80],
            "follow_up": [None, None, "GO", "INCONCLUSIVE"],
        }
    )
    row = summarise_calibration(runs).loc["better over worse"]
    assert (row["wrong"], row["inconclusive_decided"], row["median_added"]) == (0.25, 0.5, 60.0)
    assert row["wrong_upper"] == pytest.approx(scipy_stats.beta.ppf(0.95, 2, 3))
