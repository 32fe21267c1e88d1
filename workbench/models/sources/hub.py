"""Models pinned to a hub commit: found in the local hub cache (or downloaded where a hub is
reachable) at exactly the pinned revision.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import ModelNotFoundError

if TYPE_CHECKING:
    from workbench.models.ref import ModelRef

__all__ = ["hub_snapshot"]


def hub_snapshot(ref: ModelRef) -> Path:
    """Download (or find in the local cache) exactly the pinned hub commit."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(ref.location, revision=ref.revision))
    except Exception as exc:  # the hub client raises many kinds; all mean "not available"
        raise ModelNotFoundError(
            f"hub model {ref.location}@{ref.revision} is not in the local cache and the hub "
            f"cannot be reached ({type(exc).__name__}). Download it where a hub is reachable, "
            'or copy the directory here and pin it with source = "path".'
        ) from exc
