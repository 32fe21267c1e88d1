"""Argument checks shared by the verbs, so every entry point refuses bad input with one wording."""

from __future__ import annotations

import numbers

from workbench.errors import InvalidArgumentError

__all__ = ["positive_int"]


def positive_int(value: object, name: str = "k", *, example: int = 10) -> int:
    """``value`` as an ``int`` if it is a whole number >= 1, else a clear ``InvalidArgumentError``.

    Booleans are refused (``True`` is an ``int`` in Python, never a meaningful cutoff).

    Example:
        >>> positive_int(10)
        10
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}; e.g. {name}={example}")
    return int(value)
