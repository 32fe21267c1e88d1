"""Which pinned models are known to be Matryoshka-trained."""

from __future__ import annotations

import pytest

from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.models.catalog import CATALOG
from workbench.models.families import matryoshka_trained


def test_minilm_is_not_matryoshka_trained_and_a_truncated_pin_is() -> None:
    assert not matryoshka_trained(CATALOG[OLD_MODEL])
    assert not matryoshka_trained(CATALOG[NEW_MODEL])
    assert matryoshka_trained(CATALOG[NEW_MODEL].model_copy(update={"truncate_dim": 128, "dim": 128}))


@pytest.mark.parametrize(
    ("name", "trained"),
    [
        ("nomic-ai/nomic-embed-text-v1.5", True),
        ("text-embedding-3-small", True),
        ("Qwen/Qwen3-Embedding-0.6B", True),
        ("intfloat/e5-small-v2", False),
    ],
)
def test_known_families_by_name(name: str, trained: bool) -> None:
    assert matryoshka_trained(CATALOG[NEW_MODEL].model_copy(update={"name": name})) is trained
