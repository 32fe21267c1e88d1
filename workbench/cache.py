"""The machine's cache folder (materialised models, column-health memos): never inside a workspace."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """Where materialised models live: ``$WORKBENCH_CACHE`` or ``~/.cache/embedding-workbench``."""
    root = os.environ.get("WORKBENCH_CACHE") or Path.home() / ".cache" / "embedding-workbench"
    return Path(root)
