"""The verified-pin memo of local models: a passing check is not redone for the same files.

Verifying a local model costs a sha256 over its weight files (about 0.15 s for MiniLM, seconds
for larger models) and re-embedding the 32 canary texts; ``check`` also pays for importing torch
and loading the model just to do that. A local model computes the same vectors from the same
files with the same libraries, so once a check passed, its answer is kept in the machine's cache
(``$WORKBENCH_CACHE/verified/``, never inside a workspace), keyed by what it checked:

- the model directory and, for each file that changes what the model computes (the files the
  fingerprint hashes), its name, size, modification and change time and inode, one ``stat``
  each (a file rewritten, replaced or touched is a new key, as in
  :mod:`workbench.store.health`);
- the pinned fingerprint, and the versions of the libraries that turn those files into vectors
  (torch, transformers, sentence-transformers, tokenizers, safetensors, numpy): a runtime or
  tokenizer upgrade is a new key;
- for a canary result, also the pinned canary vectors and the threshold.

Served models are never memoised: they have no files, and their weights can change behind the
same name at any time, so their canaries are re-embedded on every load.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cache import cache_dir
from workbench.models.fingerprint import fingerprinted_files

if TYPE_CHECKING:
    from workbench.models.ref import ModelRef

__all__ = [
    "model_state",
    "recall_canaries",
    "recall_fingerprint",
    "remember_canaries",
    "remember_fingerprint",
]

log = logging.getLogger(__name__)

_LIBRARIES = ("torch", "transformers", "sentence-transformers", "tokenizers", "safetensors", "numpy")


@cache
def _library_versions() -> str:
    found = []
    for name in _LIBRARIES:
        try:
            found.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name}==absent")
    return ";".join(found)


def model_state(ref: ModelRef, path: Path) -> str | None:
    """What identifies the files of ``ref`` at ``path`` now (one ``stat`` per file), or None.

    None when the directory cannot be listed or a file vanishes while it is read: nothing is
    remembered or recalled for it, the full check runs.
    """
    root = Path(path).resolve()
    try:
        lines = []
        for file in fingerprinted_files(root):
            stat = file.stat()
            rel = file.relative_to(root).as_posix()
            lines.append(f"{rel}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}")
    except OSError:
        return None
    if not lines:
        return None
    key = "\n".join([str(root), ref.fingerprint, _library_versions(), *lines])
    return hashlib.sha256(key.encode()).hexdigest()


def recall_fingerprint(state: str | None) -> bool:
    """True if files in exactly this ``state`` were hashed to their pinned fingerprint before."""
    return state is not None and _path("fingerprint", state).is_file()


def remember_fingerprint(state: str | None) -> None:
    """Record that files in ``state`` hash to their pin (after :func:`fingerprint_dir` said so)."""
    if state is not None:
        _write(_path("fingerprint", state), "{}")


def recall_canaries(state: str | None, pin_key: str) -> dict[str, Any] | None:
    """The fields of the passing canary result remembered for the model in ``state`` and the pin
    ``pin_key`` names (its canary vectors and threshold), or None."""
    if state is None:
        return None
    path = _path("canaries", _canary_key(state, pin_key))
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.debug("ignoring an unreadable canary memo %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def remember_canaries(state: str | None, pin_key: str, fields: dict[str, Any]) -> None:
    """Remember the fields of a passing canary result of the model in ``state`` against ``pin_key``."""
    if state is not None:
        _write(_path("canaries", _canary_key(state, pin_key)), json.dumps(fields))


def _canary_key(state: str, pin_key: str) -> str:
    return hashlib.sha256(f"{state}|{pin_key}".encode()).hexdigest()


def _path(kind: str, key: str) -> Path:
    return cache_dir() / "verified" / kind / f"{key[:40]}.json"


def _write(path: Path, text: str) -> None:
    """Write atomically; a memo that cannot be written (read-only or full disk) is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("could not write the verified-pin memo %s: %s", path, exc)
