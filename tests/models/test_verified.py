"""The verified-pin memo: a local model's passing check is reused for the same files, never otherwise."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from workbench.demo import OLD_MODEL
from workbench.errors import CanaryMismatchError, FingerprintMismatchError
from workbench.models.canary import CanaryPin, compute_canaries, require_canaries
from workbench.models.catalog import CATALOG
from workbench.models.loading import recalled_check
from workbench.models.ref import ModelRef
from workbench.models.sources.local import SentenceTransformerEmbedder, load_local, resolve_model_dir
from workbench.production.serving import check
from workbench.store.canaries import last_checks
from workbench.store.workspace import Workspace


@pytest.fixture
def copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModelRef, Path]:
    """The old model's files in a folder of their own, pinned by path; a private machine cache."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    catalog = CATALOG[OLD_MODEL]
    folder = shutil.copytree(resolve_model_dir(catalog), tmp_path / "model")
    ref = catalog.model_copy(update={"source": "path", "location": str(folder), "revision": "copy"})
    return ref, folder


@pytest.fixture(scope="module")
def pin(old_embedder: SentenceTransformerEmbedder) -> CanaryPin:
    return compute_canaries(old_embedder)


def test_a_passing_check_is_remembered_for_the_same_files(
    copied: tuple[ModelRef, Path], pin: CanaryPin
) -> None:
    ref, _ = copied
    assert recalled_check(ref, pin) is None  # nothing checked yet
    first = require_canaries(load_local(ref), pin)
    assert first.passed and not first.remembered
    recalled = recalled_check(ref, pin)  # without loading the model
    assert recalled is not None and recalled.remembered and recalled.checked_at == first.checked_at
    again = require_canaries(load_local(ref), pin)
    assert again.remembered and again.min_cosine == first.min_cosine


def test_a_changed_weight_file_is_hashed_and_refused_again(
    copied: tuple[ModelRef, Path], pin: CanaryPin
) -> None:
    ref, folder = copied
    require_canaries(load_local(ref), pin)
    weights = folder / "model.safetensors"
    before = weights.stat()
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, other content, and the old modification time put back
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert recalled_check(ref, pin) is None
    with pytest.raises(FingerprintMismatchError, match="fingerprint"):
        load_local(ref)


@pytest.mark.slow
def test_a_touched_file_is_checked_again(copied: tuple[ModelRef, Path], pin: CanaryPin) -> None:
    ref, folder = copied
    require_canaries(load_local(ref), pin)
    os.utime(folder / "config.json")
    assert recalled_check(ref, pin) is None
    assert not require_canaries(load_local(ref), pin).remembered


@pytest.mark.slow
def test_an_embedder_not_loaded_from_the_files_is_always_checked(
    copied: tuple[ModelRef, Path], pin: CanaryPin, new_embedder: SentenceTransformerEmbedder
) -> None:
    ref, _ = copied
    require_canaries(load_local(ref), pin)  # the memo holds a pass for these files
    impostor = SentenceTransformerEmbedder(ref, new_embedder.model)  # same pin, other weights
    with pytest.raises(CanaryMismatchError, match="failed its canary check"):
        require_canaries(impostor, pin)


def test_a_served_model_is_never_recalled(pin: CanaryPin) -> None:
    served = CATALOG[OLD_MODEL].model_copy(update={"source": "openai", "location": "http://127.0.0.1:9/v1"})
    assert served.is_served and recalled_check(served, pin) is None


def test_check_reuses_a_passing_check_and_records_it_as_remembered(
    demo_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    first = check(demo_ws, "demo")
    assert first.ok and first.canaries == "re-embedded"
    column = first.column
    checked_at = last_checks(demo_ws)[column]["checked_at"]
    second = check(demo_ws, "demo")
    assert second.ok and second.canaries.startswith(f"remembered: passed at {checked_at}")
    latest = last_checks(demo_ws)[column]
    assert latest["checked_at"] == checked_at and latest["context"] == "check, remembered"
