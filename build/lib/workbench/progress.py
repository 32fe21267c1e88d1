"""Progress callbacks: how long-running library work reports progress to its client.

The library never draws a bar itself; the CLI (tqdm), the app (``st.progress``) and notebooks
pass a callback. Kept apart so that no operation module becomes a hub just for this type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

__all__ = ["ProgressFn", "StepFn"]

ProgressFn: TypeAlias = Callable[[int, int], None]
"""Called with ``(done, total)`` after each unit of work (rows, queries, fragments)."""

StepFn: TypeAlias = Callable[[str], ProgressFn | None]
"""Given a step's description, returns the progress callback for that step (or None)."""
