"""The response checks every served request passes (no server needed): degenerate vectors and
impossible usage are refused like NaN; texts a tokenizer cannot tell apart may share a vector."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ServedModelError
from workbench.models.served import check_usage, check_vectors, redact

RNG = np.random.default_rng(7)
REAL = RNG.normal(size=(3, 8)).astype(np.float32)


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        (np.vstack([REAL[:2], np.zeros((1, 8), np.float32)]), r"zero-norm vectors for 1 of 3 inputs"),
        (np.vstack([REAL[:2], np.full((1, 8), 0.3, np.float32)]), r"constant vectors .* for 1 of 3"),
        (np.vstack([REAL[:1], REAL[:1], REAL[2:]]), r"the same vector for 2 different inputs"),
    ],
)
def test_degenerate_vectors_are_refused(vectors: np.ndarray, message: str) -> None:
    with pytest.raises(ServedModelError, match=message):
        check_vectors(vectors, n=3, dim=8, model="m", texts=["rice", "moon", "tax"])


def test_texts_a_tokenizer_cannot_tell_apart_may_share_a_vector() -> None:
    same = np.vstack([REAL[:1], REAL[:1], REAL[2:]])
    for pair in (["Café Noir", "cafe  noir!"], ["rice", "rice"], ["x" * 250 + "a", "x" * 250 + "b"]):
        assert check_vectors(same, n=3, dim=8, model="m", texts=[*pair, "tax"]).shape == (3, 8)


@pytest.mark.parametrize("tokens", [-1, 1.4e16, float("nan"), "12", None, True])
def test_impossible_usage_is_refused(tokens: object) -> None:
    with pytest.raises(ServedModelError, match=r"usage of .* impossible"):
        check_usage(tokens, inputs=8, model="m")


def test_plausible_usage_passes() -> None:
    assert check_usage(0, inputs=8, model="m") == 0
    assert check_usage(8_000_000, inputs=8, model="m") == 8_000_000


def test_redact_masks_only_the_key() -> None:
    assert redact("key sk-ABCDEFGH12 and SK-abcdefgh12", "sk-ABCDEFGH12") == "key *** and ***"
    assert redact("short ab AB", "ab") == "short *** ***"
    assert redact("", "sk-ABCDEFGH12") == ""
    assert redact("anything", "") == "anything"
