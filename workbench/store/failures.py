"""Name the failures that come from below the workbench: LanceDB, Lance, the file system.

LanceDB and Lance raise ``OSError``, ``RuntimeError`` or ``ValueError`` with a Rust message for
a commit conflict, a full or read-only disk, or a damaged file. :func:`explain` turns each
into the workbench error that names the problem and the fix, so the CLI (and the app) can
show one line instead of a traceback. Every one of these left the data as it was: Lance
commits a version atomically or not at all.
"""

from __future__ import annotations

import errno
import re

from workbench.errors import (
    ConcurrentChangeError,
    CorruptStateError,
    DataError,
    InvalidArgumentError,
    StorageError,
    WorkbenchError,
)

__all__ = ["damaged", "explain"]

_CONFLICT = ("commit conflict", "incompatible transaction", "preempted by concurrent", "commitconflict")
_FULL = ("no space left on device",)
_READ_ONLY = ("read-only file system", "permission denied", "operation not permitted")
_DAMAGED = (
    "not found",
    "does not exist",
    "no such file",
    "corrupt",
    "invalid thrift",
    "parquet",
    "unexpected eof",
    "failed to fill whole buffer",
    "out of range",
    "invalid manifest",
    "decode",
    "lanceerror(io)",
    "does not appear to be a lance file",  # garbage bytes in a data file
    "invalid magic",
    "expected value at line",  # a tag or other JSON file Lance keeps, overwritten with junk
    "eof while parsing",
    "trailing characters at line",
    "key must be a string",
)
_OTHER_OPERATION = re.compile(r"concurrent transaction (\w+)")


def explain(exc: BaseException) -> WorkbenchError | None:
    """The workbench error for ``exc`` (itself if it is one), or None for a genuine bug.

    Example:
        >>> explain(OSError(errno.ENOSPC, "No space left on device")).__class__.__name__
        'StorageError'
    """
    if isinstance(exc, WorkbenchError):
        return exc
    if isinstance(exc, UnicodeError):
        return DataError(
            f"text contains characters that cannot be stored as UTF-8 ({_first_line(exc)}), e.g. a lone "
            "surrogate such as \\ud800 from a broken JSON escape; fix the input file and run again"
        )
    if isinstance(exc, ValueError) and "embedded null byte" in str(exc):
        return InvalidArgumentError(
            "a path contains a NUL byte (\\x00), which no file name can hold; give the path without it"
        )
    if isinstance(exc, OverflowError):
        return InvalidArgumentError(f"a number is out of range ({_first_line(exc)}); give a smaller value")
    code = _errno(exc)
    text = " ".join(_messages(exc)).lower()
    if any(k in text for k in _CONFLICT):
        other = _OTHER_OPERATION.search(" ".join(_messages(exc)))
        what = f" (it committed a {other.group(1)})" if other else ""
        return ConcurrentChangeError(
            f"another process wrote to the same table at the same time{what}; this command committed "
            "nothing. Re-running it is safe: it starts from the table as it now is."
        )
    if code == errno.ENOSPC or any(k in text for k in _FULL):
        return StorageError(
            f"the disk is full{_where(exc)}; nothing was committed (a table version is written whole or "
            "not at all). Free some space and run the command again: interrupted work resumes."
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or any(k in text for k in _READ_ONLY):
        return StorageError(
            f"cannot write{_where(exc)}: the workspace is read-only or not writable by this user. Give a "
            "writable --workspace, or fix its permissions; nothing was written."
        )
    if isinstance(exc, (OSError, RuntimeError, ValueError)) and any(k in text for k in _DAMAGED):
        filename = getattr(exc, "filename", None)
        if code == errno.ENOENT and filename and ".lance" not in str(filename):
            return None  # an input file the caller should have checked: keep the traceback (a bug)
        return damaged(_first_line(exc))
    return None


def damaged(detail: str) -> CorruptStateError:
    """The one error for workspace files deleted, truncated or edited outside the workbench.

    ``detail`` names what was found (the storage layer's message, or which file is missing or
    has the wrong size); the rest of the line is the fix, the same wherever damage is found.
    """
    return CorruptStateError(
        f"workspace data is missing or damaged ({detail}); a data file or manifest was "
        "deleted, truncated or edited outside the workbench. Restore the workspace folder from a "
        "backup (or re-ingest and re-embed into a new one)."
    )


def _messages(exc: BaseException) -> list[str]:
    """The messages of ``exc`` and the exceptions it was raised from, type names included."""
    found, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return found


def _errno(exc: BaseException) -> int | None:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, OSError) and current.errno is not None:
            return current.errno
        current = current.__cause__ or current.__context__
    return None


def _where(exc: BaseException) -> str:
    name = getattr(exc, "filename", None)
    return f" ({name})" if name else ""


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = re.sub(r",?\s*/\S+\.rs:\d+:\d+", "", text)  # drop Rust source locations
    return text[:240]
