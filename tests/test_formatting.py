"""One rule for numbers and durations shown to people (CLI, reports, gate, app)."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest

from workbench.formatting import MISSING, duration, interval, number, p_text, p_value, without_negative_zero


@pytest.mark.parametrize(
    ("value", "kwargs", "shown"),
    [
        (0.1676, {}, "0.168"),
        (0.1676, {"signed": True}, "+0.168"),
        (-0.0002, {}, "0.000"),  # never a negative zero
        (-0.0002, {"signed": True}, "+0.000"),
        (-0.0, {"signed": True}, "+0.000"),
        (-0.0132, {"signed": True}, "-0.013"),
        (-0.00004, {"digits": 4, "signed": True}, "+0.0000"),
        (0.16764, {"digits": 4, "signed": True}, "+0.1676"),
        (math.nan, {}, MISSING),
        (None, {}, MISSING),
        (pd.NA, {}, MISSING),
        (math.inf, {}, "∞"),
        (3, {}, "3.000"),
    ],
)
def test_number(value: object, kwargs: dict, shown: str) -> None:
    assert number(value, **kwargs) == shown


def test_an_interval_is_signed_and_has_no_negative_zero() -> None:
    assert interval(-0.0001, -0.00002) == "[+0.000, +0.000]"
    assert interval(0.0932, 0.2403) == "[+0.093, +0.240]"
    assert interval(-0.014, 0.068, 4) == "[-0.0140, +0.0680]"
    assert interval(0.01, 0.02, signed=False) == "[0.010, 0.020]"


@pytest.mark.parametrize(
    ("p", "cell", "prose"),
    [
        (0.0002, "<0.001", "p<0.001"),
        (0.00099, "<0.001", "p<0.001"),
        (0.001, "0.001", "p=0.001"),
        (0.0224, "0.022", "p=0.022"),
        (1.0, "1.000", "p=1.000"),
        (math.nan, MISSING, "p=n/a"),
        (None, MISSING, "p=n/a"),
    ],
)
def test_one_p_value_rule(p: object, cell: str, prose: str) -> None:
    assert p_value(p) == cell and p_text(p) == prose
    assert p_value(p) != "0.000"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (timedelta(days=7), "7 days"),
        (timedelta(days=1), "1 day"),
        (timedelta(hours=26), "1 day 2 h"),
        (timedelta(weeks=2), "14 days"),
        (timedelta(minutes=30), "30 min"),
        (timedelta(hours=1, minutes=30, seconds=5), "1 h 30 min"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(0), "0 s"),
        (timedelta(hours=-2), "-2 h"),
        (timedelta.max, "forever"),
    ],
)
def test_durations_in_words(value: timedelta, shown: str) -> None:
    assert duration(value) == shown
    assert ":" not in duration(value)


def test_a_frame_loses_its_negative_zeros_and_keeps_other_columns() -> None:
    frame = pd.DataFrame({"delta": [-0.0002, 0.1676], "id": ["a", "b"], "n": [1, 2]})
    out = without_negative_zero(frame)
    assert [f"{x:+.3f}" for x in out["delta"]] == ["+0.000", "+0.168"]
    assert out["id"].tolist() == ["a", "b"] and out["n"].tolist() == [1, 2]
    assert frame["delta"].iloc[0] == -0.0002  # the input is not changed
    assert f"{without_negative_zero(pd.Series([-0.0001])).iloc[0]:.3f}" == "0.000"
