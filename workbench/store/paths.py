"""Server paths given by a remote user (the app): confined to an allowed root when one is set."""

from __future__ import annotations

from pathlib import Path

from workbench.errors import InvalidArgumentError

__all__ = ["require_inside"]


def require_inside(path: str | Path, root: str | Path | None) -> Path:
    """``path`` resolved, refused unless it lies inside ``root`` (no check when ``root`` is None).

    Symlinks and ``..`` are resolved first, so neither can lead outside. The app applies this to
    every path a user types for a write action (ingest a server file, pin a model folder) when
    ``WORKBENCH_ALLOWED_ROOT`` is set.

    Raises:
        InvalidArgumentError: ``path`` resolves outside ``root``.

    Example:
        >>> require_inside("/srv/data/../etc/passwd", "/srv/data")  # doctest: +SKIP
        Traceback (most recent call last):
        InvalidArgumentError: path '/srv/data/../etc/passwd' is outside the allowed root ...
    """
    resolved = Path(path).expanduser().resolve()
    if root is None:
        return resolved
    base = Path(root).expanduser().resolve()
    if resolved != base and base not in resolved.parents:
        raise InvalidArgumentError(
            f"path {str(path)!r} is outside the allowed root {str(base)!r} (WORKBENCH_ALLOWED_ROOT); "
            "give a path inside it, or ask the operator to place the files there"
        )
    return resolved
