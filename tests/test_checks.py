"""Shared argument checks: one wording for every verb."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.checks import positive_int
from workbench.errors import InvalidArgumentError


@pytest.mark.parametrize("value", [1, 10, np.int64(5)])
def test_positive_int_accepts_whole_numbers_from_one(value: object) -> None:
    assert positive_int(value) == int(value)  # type: ignore[call-overload]


@pytest.mark.parametrize("value", [0, -3, 2.5, "10", True, None])
def test_positive_int_refuses_with_the_name_and_an_example(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^k must be a positive integer, got .*; e\.g\. k=10$"):
        positive_int(value)


def test_positive_int_names_other_arguments() -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"^bins must be a positive integer, got 0; e\.g\. bins=40$"
    ):
        positive_int(0, "bins", example=40)
