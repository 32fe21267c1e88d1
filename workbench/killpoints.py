"""Deterministic kill points: prove that every multi-step write survives ``kill -9`` between steps.

Each production move (promote, rollback, refresh, retire) and the creation of a new table call
:func:`reached` at every step boundary (``"promote:claimed"``, ``"rollback:moved"``, ...). When
the environment variable ``WORKBENCH_KILL_AT`` names that step, the process sends itself SIGKILL
there: no cleanup, no ``finally``, exactly like a crash or an OOM kill. The kill-point harness
(``tests/production/test_killpoints.py``, ``bench/killpoints.py``) runs real CLI subprocesses
with every step name and checks that the workspace stays consistent and that re-running the
command finishes the job.

Unset (always, outside those tests), :func:`reached` is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV", "PROGRESSIVE_STEPS", "STEPS", "reached"]

ENV = "WORKBENCH_KILL_AT"

STEPS: dict[str, tuple[str, ...]] = {
    "promote": ("promote:metadata", "promote:claimed", "promote:moved", "promote:recorded"),
    "refresh": ("refresh:metadata", "refresh:claimed", "refresh:moved", "refresh:recorded"),
    "rollback": ("rollback:claimed", "rollback:popped", "rollback:moved", "rollback:recorded"),
    "retire": (
        "retire:claimed",
        "retire:dropped",
        "retire:tags",
        "retire:recorded",
        "retire:released",
        "retire:pruned",
    ),
    "ingest": ("ingest:staged", "ingest:created"),
}
"""Every step boundary, by command, in the order the command passes them."""

PROGRESSIVE_STEPS: tuple[str, ...] = (
    "progressive:created",
    "progressive:embedded",
    "progressive:committed",
    "progressive:completed",
)
"""The step boundaries of ``workbench embed --progressive`` (``embedded`` and ``committed`` are
passed once per batch; the kill happens at the first). Exercised by
``tests/embedding/test_progressive_kill.py``, apart from the production harness above."""


def reached(step: str) -> None:
    """Mark a step boundary; SIGKILL this process if ``WORKBENCH_KILL_AT`` names ``step``."""
    if os.environ.get(ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)
