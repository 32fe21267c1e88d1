"""Writer locks: one production move per table, one embedding run per column, at a time.

Two commands that decide from the same state and then both write it (a promote racing a
rollback, two ``workbench embed`` of one model sharing a checkpoint folder) must not run at
once. :func:`hold` makes the second one refuse at once, with one line naming the holder, before
it reads or writes anything; it never waits behind a move that would change what it decides on.

A lock is a file under the workspace's local :attr:`~workbench.store.workspace.Workspace.state_dir`
(``locks/<name>.lock``) held with an OS advisory lock (``flock``) for as long as the holder
runs. The OS releases it when the holder exits or is killed, so a lock is never stale: the file
a dead holder leaves behind is free at once. The file records the holder (pid, host, since,
what) only to name it in the refusal.

Scope: the processes that share the state folder (one machine, or a shared file system that
honours ``flock``). Object-store workspaces driven from several machines are not serialised by
it; there the production moves still refuse a ledger that changed before their claim, and their
claims stay atomic tag creations.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from workbench.errors import ConcurrentChangeError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no OS lock, the tag claims still hold
    fcntl = None  # type: ignore[assignment]

__all__ = ["hold", "holder"]

_HELD: dict[Path, tuple[int, int]] = {}  # lock file -> (thread id, depth): re-entry by its holder
_GUARD = threading.Lock()
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]|^\.")


@contextmanager
def hold(state_dir: Path, name: str, *, what: str, busy: str, fix: str) -> Iterator[None]:
    """Hold lock ``name`` for the block, or raise at once if another process (or thread) holds it.

    The holding thread may enter it again (nested calls of the same command).

    Args:
        state_dir: The workspace's local state folder.
        name: The lock, a file name (``production-demo``).
        what: What this holder does, recorded for others' refusals ("a rollback of 'demo'").
        busy: The refusal's start ("another production move of 'demo' is running").
        fix: What to do instead, the refusal's end.

    Raises:
        ConcurrentChangeError: another holder; nothing was read or written.
        OSError: the lock file cannot be made (a read-only or full disk).
    """
    path = (state_dir / "locks" / f"{_UNSAFE.sub('_', name)}.lock").resolve()
    me = threading.get_ident()
    with _GUARD:
        owner, depth = _HELD.get(path, (me, 0))
        if depth and owner == me:
            _HELD[path] = (me, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            _release_depth(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked_file(path) as fh:
        if fh is None:
            raise ConcurrentChangeError(
                f"{busy}: {holder(path)}; this command read and changed nothing. {fix}"
            )
        with _GUARD:
            if path in _HELD:  # another thread of this process holds it (no flock on this system)
                raise ConcurrentChangeError(f"{busy} in this process; this command changed nothing. {fix}")
            _HELD[path] = (me, 1)
        try:
            _record_holder(fh, what)
            yield
        finally:
            with _GUARD:
                _HELD.pop(path, None)
            path.unlink(missing_ok=True)  # still locked: whoever opens the path next makes a new file


def holder(path: Path) -> str:
    """Who holds the lock file ``path``, as recorded in it (``a promote of 'demo' by pid 123 on …``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict) or "pid" not in data:
        return "another process holds it"
    return f"{data.get('what')} by pid {data.get('pid')} on {data.get('host')} since {data.get('since')}"


@contextmanager
def _locked_file(path: Path) -> Iterator[IO[str] | None]:
    """The lock file ``path``, opened and locked by this process; None if another holds it.

    A holder removes the file before it unlocks it, so the file locked here may have been
    removed in between: it is then no longer the lock, and the path is opened again.
    """
    for _ in range(100):
        with open(path, "a+", encoding="utf-8") as fh:
            if not _try_lock(fh):
                yield None
                return
            try:
                if _same_file(fh, path):
                    yield fh
                    return
            finally:
                if fcntl is not None:
                    fcntl.flock(fh, fcntl.LOCK_UN)
    yield None  # pragma: no cover - released under our hands a hundred times in a row


def _same_file(fh: IO[str], path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
    except FileNotFoundError:
        return False


def _try_lock(fh: IO[str]) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _record_holder(fh: IO[str], what: str) -> None:
    since = datetime.now(UTC).isoformat(timespec="seconds")
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since, "what": what}))
    fh.flush()


def _release_depth(path: Path) -> None:
    with _GUARD:
        owner, depth = _HELD[path]
        _HELD[path] = (owner, depth - 1)
