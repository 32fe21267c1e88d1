"""File fingerprints of local models: sha256 over the files that determine what a model computes,
and the refusal of pickle weights.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from workbench.errors import ModelNotFoundError, UnsafeWeightsError

__all__ = ["check_weights_safe", "fingerprint_dir", "fingerprinted_files"]

_FINGERPRINT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".pt", ".pth")
_FINGERPRINT_NAMES = frozenset(
    {
        "config.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "merges.txt",
        "vocab.json",
        "spiece.model",
        "sentencepiece.bpe.model",
        "added_tokens.json",
    }
)


def fingerprint_dir(path: str | Path) -> str:
    """sha256 over the files that determine what the model computes.

    Each relevant file (weights, configs, tokenizer files; see MODELS.md) is hashed; then one
    sha256 is taken over the sorted ``"relative/path hash"`` lines. Copies of the same model
    in different folders give the same value.

    Raises:
        ModelNotFoundError: ``path`` is not a directory or holds no weight file.
    """
    root = Path(path)
    if not root.is_dir():
        raise ModelNotFoundError(f"model directory {str(root)!r} does not exist")
    lines = []
    has_weights = False
    for file in fingerprinted_files(root):
        rel = file.relative_to(root).as_posix()
        has_weights |= file.suffix in _FINGERPRINT_SUFFIXES
        lines.append(f"{rel} {_sha256_file(file)}")
    if not has_weights:
        raise ModelNotFoundError(
            f"{str(root)!r} holds no weight file (*.safetensors, *.bin, *.onnx): "
            "is it a sentence-transformers model directory?"
        )
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def fingerprinted_files(root: Path) -> list[Path]:
    """The files under ``root`` that the fingerprint covers (weights, configs, tokenizer), sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if (p.suffix in _FINGERPRINT_SUFFIXES or p.name in _FINGERPRINT_NAMES) and p.is_file()
    )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_weights_safe(path: Path, *, allow_pickle: bool) -> None:
    """Refuse pickle weights anywhere in the model's modules unless explicitly allowed.

    Each module of a sentence-transformers model (the transformer at the root, ``2_Dense/``,
    ...) loads its own weights, and a module folder without ``*.safetensors`` (or ``*.onnx``)
    falls back to its pickle file. So the check is per folder: a pickle file is refused when its
    own folder offers no safe alternative, wherever it is.
    """
    if allow_pickle:
        return
    files = [p for p in path.rglob("*") if p.is_file()]
    safe_dirs = {p.parent for p in files if p.suffix in (".safetensors", ".onnx")}
    pickles = sorted(
        p.relative_to(path).as_posix()
        for p in files
        if p.suffix in (".bin", ".pt", ".pth") and "onnx" not in p.name and p.parent not in safe_dirs
    )
    if pickles:
        raise UnsafeWeightsError(
            f"{str(path)!r} has pickle weights with no safetensors beside them ({', '.join(pickles)}); "
            "loading them can run arbitrary code. Convert them to safetensors, or set allow_pickle = "
            "true for this model in workbench.toml if you trust the source."
        )
