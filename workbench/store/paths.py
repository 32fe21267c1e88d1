"""Server paths given by a remote user (the app): confined to an allowed root when one is set."""

from __future__ import annotations

from pathlib import Path

from workbench.errors import InvalidArgumentError

__all__ = ["confine_workspace", "local_path", "require_inside"]


def local_path(path: str | Path, *, what: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path`, refused when no file system can hold it.

    A NUL byte (``\\x00``) would otherwise surface as a raw ``ValueError`` from the first
    system call; an empty path would silently mean the working directory.

    Raises:
        InvalidArgumentError: ``path`` is empty or contains a NUL byte.
    """
    text = str(path)
    if "\x00" in text:
        raise InvalidArgumentError(
            f"{what} {text!r} contains a NUL byte (\\x00), which no file name can hold; "
            "give the path without it"
        )
    if not text.strip():
        raise InvalidArgumentError(f"{what} is empty; give a path")
    return Path(text)


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
    resolved = _resolved(local_path(path))
    if root is None:
        return resolved
    base = _resolved(local_path(root, what="WORKBENCH_ALLOWED_ROOT"))
    if resolved != base and base not in resolved.parents:
        raise InvalidArgumentError(
            f"path {str(path)!r} is outside the allowed root {str(base)!r} (WORKBENCH_ALLOWED_ROOT); "
            "give a path inside it, or ask the operator to place the files there"
        )
    return resolved


def confine_workspace(uri: str, root: str | Path | None) -> str:
    """The workspace ``uri`` the app may open and write to: inside ``root`` when one is set.

    With an allowed root only local folders inside it are accepted: an object-store URI
    (``s3://…``, ``memory://…``) would write with the server's credentials wherever the user
    points it. Without a root the URI is returned as given (a NUL byte is still refused).

    Raises:
        InvalidArgumentError: a NUL byte or empty path, a remote URI under a root, or a folder
            outside it.
    """
    local_path(uri, what="workspace path")
    if root is None:
        return uri
    if "://" in uri:
        raise InvalidArgumentError(
            f"workspace {uri!r} is not a local folder: with WORKBENCH_ALLOWED_ROOT set the app opens only "
            "workspaces inside that folder; give a path inside it"
        )
    return str(require_inside(uri, root))


def _resolved(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise InvalidArgumentError(
            f"path {str(path)!r} cannot be resolved ({exc}); give another path"
        ) from exc
