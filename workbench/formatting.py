"""How numbers and durations are shown to people: one rule for the CLI, the reports and the app.

* a number has a fixed count of decimals (three by default) and is never a negative zero:
  ``-0.0002`` shows as ``0.000`` (``+0.000`` when signed), so an interval reads ``[+0.000, +0.002]``,
  not ``[-0.000, +0.002]``;
* deltas and the ends of their intervals are signed (``+0.168 [+0.093, +0.240]``);
* a p-value has three decimals, and below 0.001 is ``<0.001`` (never ``0.000``);
* a missing number (``None``, NaN) is ``–``;
* a duration is in words (``7 days``, ``1 day 2 h``, ``30 min``), not ``7 days, 0:00:00``.

Machine output (``--json``, the JSON and CSV reports) keeps full precision; this is for people.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

__all__ = [
    "MISSING",
    "duration",
    "interval",
    "number",
    "p_text",
    "p_value",
    "without_negative_zero",
]

MISSING = "–"
_P_FLOOR = 0.001


def _finite(value: object) -> float | None:
    """``value`` as a finite float, or None when it is missing (None, NaN, pandas' NA)."""
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def number(value: object, digits: int = 3, *, signed: bool = False) -> str:
    """``value`` with ``digits`` decimals, never ``-0.000``; ``signed`` puts ``+`` on positives and zero.

    >>> number(-0.0002), number(0.1676, signed=True), number(float("nan"))
    ('0.000', '+0.168', '–')
    """
    x = _finite(value)
    if x is None:
        return MISSING
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    x = round(x, digits) + 0.0  # a value that rounds to zero loses its sign: -0.0 + 0.0 is 0.0
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def interval(low: object, high: object, digits: int = 3, *, signed: bool = True) -> str:
    """A confidence interval, ``[+0.093, +0.240]``: both ends by :func:`number`."""
    return f"[{number(low, digits, signed=signed)}, {number(high, digits, signed=signed)}]"


def p_value(p: object) -> str:
    """A p-value for a table cell: ``0.022``, ``<0.001``, ``1.000``, or ``–`` when missing."""
    x = _finite(p)
    if x is None:
        return MISSING
    return f"<{_P_FLOOR:.3f}" if x < _P_FLOOR else f"{x:.3f}"


def p_text(p: object) -> str:
    """A p-value in a sentence: ``p=0.022``, ``p<0.001``, or ``p=n/a``."""
    shown = p_value(p)
    if shown == MISSING:
        return "p=n/a"
    return f"p{shown}" if shown.startswith("<") else f"p={shown}"


_UNITS = (("day", "days", 86400), ("h", "h", 3600), ("min", "min", 60), ("s", "s", 1))


def duration(value: timedelta) -> str:
    """A duration in words, at most two units: ``7 days``, ``1 day 2 h``, ``30 min``, ``0 s``.

    >>> duration(timedelta(days=7)), duration(timedelta(hours=26)), duration(timedelta(0))
    ('7 days', '1 day 2 h', '0 s')
    """
    if value == timedelta.max:
        return "forever"
    seconds = round(abs(value.total_seconds()))
    parts = []
    for one, many, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {one if count == 1 else many}")
    shown = " ".join(parts[:2]) or "0 s"
    return f"-{shown}" if value < timedelta(0) else shown


def without_negative_zero(frame: Any, digits: int = 3) -> Any:
    """A pandas frame or series with its float values rounded to ``digits`` and no ``-0.0``.

    For tables whose formatting happens elsewhere (a Streamlit ``NumberColumn`` format, a
    ``Styler``): a value that would print as ``-0.000`` prints as ``0.000``. Other columns are
    left as they are.
    """
    import pandas as pd

    if isinstance(frame, pd.Series):
        return frame.round(digits) + 0.0 if pd.api.types.is_float_dtype(frame) else frame
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_float_dtype(out[name]):
            out[name] = out[name].round(digits) + 0.0
    return out
