"""Behavioural fingerprints with the real local models: the shipped canary set, storage, checks."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import numpy as np
import pytest

from workbench.errors import CanaryMismatchError, CorruptStateError, FingerprintMismatch
from workbench.models.canary import (
    CanaryPin,
    canary_texts,
    canary_texts_sha256,
    compute_canaries,
    require_canaries,
    verify_canaries,
)
from workbench.models.catalog import CATALOG
from workbench.models.loading import load_embedder
from workbench.models.sources.local import SentenceTransformerEmbedder
from workbench.store.canaries import last_checks, load_canaries
from workbench.store.workspace import Workspace, vector_columns


def test_the_canary_set_ships_with_the_package_and_is_hashed() -> None:
    raw = json.loads(resources.files("workbench.models").joinpath("canary_texts.json").read_text("utf-8"))
    texts = canary_texts()
    assert 30 <= len(texts) <= 40 and texts == tuple(raw["texts"])
    assert len(set(texts)) == len(texts) and all(t.strip() for t in texts)
    assert any(ord(c) > 0x3000 for t in texts for c in t)  # a few non-Latin scripts
    assert max(map(len, texts)) > 150 > min(map(len, texts))  # short and long
    assert canary_texts_sha256() == hashlib.sha256("\n".join(texts).encode()).hexdigest()


def test_the_same_model_passes_and_a_round_trip_keeps_it(old_embedder: SentenceTransformerEmbedder) -> None:
    pin = compute_canaries(old_embedder)
    stored = CanaryPin.from_json(pin.to_json())  # float16 in storage
    result = verify_canaries(old_embedder, stored)
    assert result.passed and result.min_cosine > 0.9999 and result.dim == 384
    assert len(pin.to_json()) < 40_000


@pytest.mark.slow
def test_another_model_of_the_same_dimension_fails(
    old_embedder: SentenceTransformerEmbedder, new_embedder: SentenceTransformerEmbedder
) -> None:
    pin = compute_canaries(old_embedder)
    impostor = SentenceTransformerEmbedder(old_embedder.ref, new_embedder.model)  # same pin, other weights
    result = verify_canaries(impostor, pin)
    assert not result.passed and result.min_cosine < 0.9 and result.dim == result.expected_dim == 384
    with pytest.raises(
        CanaryMismatchError, match=r"paraphrase-MiniLM-L3-v2.*minimum cosine 0\.\d+.*new model"
    ) as info:
        require_canaries(impostor, pin)
    assert isinstance(info.value, FingerprintMismatch) and info.value.min_cosine == pytest.approx(
        result.min_cosine
    )


@pytest.mark.slow
def test_a_runtime_change_the_file_hash_misses_is_caught() -> None:
    ref = CATALOG["minilm-l6"]
    embedder = load_embedder(ref)  # files verified by sha256
    pin = compute_canaries(embedder)
    embedder.model.max_seq_length = 8  # same files, another truncation: the long canaries change
    result = verify_canaries(embedder, pin)
    assert not result.passed and "minimum canary cosine" in result.problem


@pytest.mark.slow
def test_threshold_is_configurable(old_embedder: SentenceTransformerEmbedder) -> None:
    pin = compute_canaries(old_embedder)
    noisy = CanaryPin(pin.texts_sha256, pin.vectors + np.float32(0.004))
    assert not verify_canaries(old_embedder, noisy).passed
    assert verify_canaries(old_embedder, noisy, threshold=0.99).passed


def test_a_canary_set_from_another_release_is_refused(old_embedder: SentenceTransformerEmbedder) -> None:
    pin = compute_canaries(old_embedder)
    with pytest.raises(CorruptStateError, match="another canary set"):
        verify_canaries(old_embedder, CanaryPin("0" * 64, pin.vectors))
    with pytest.raises(CorruptStateError, match="unreadable"):
        CanaryPin.from_json('{"shape": [2]}')


def test_demo_columns_carry_canaries_recorded_on_first_use(demo_ws: Workspace) -> None:
    columns = vector_columns(demo_ws.table("demo"))
    assert len(columns) == 2
    for column in columns:
        assert CanaryPin.from_json(column.canaries).dim == 384
        stored = load_canaries(demo_ws, column.ref)
        assert stored is not None and np.allclose(
            stored.vectors, CanaryPin.from_json(column.canaries).vectors
        )
    checks = last_checks(demo_ws)
    assert {c.name for c in columns} <= set(checks)
    assert all(float(checks[c.name]["min_cosine"]) > 0.999 for c in columns)
