"""Start-up of ``workbench --help`` and ``workbench status``: two checkouts, interleaved, one venv.

Each run starts a fresh interpreter that imports the ``workbench`` package of the checkout it is
given (the editable install's finder is taken off ``sys.meta_path``, so the other tree cannot
leak in), then runs the CLI. Runs of the two checkouts alternate, so a change in the machine's
load hits both alike; wall and CPU seconds (user + system of the child) are reported per command.

Example (before = the commit before a refactor, after = this checkout)::

    git worktree add /tmp/base <commit>
    .venv/bin/workbench demo -w /tmp/wsdemo
    .venv/bin/python bench/bench_startup.py --before /tmp/base --after . --workspace /tmp/wsdemo --runs 10
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNNER = """
import sys
root = sys.argv[1]
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, root)
sys.argv = ["workbench", *sys.argv[2:]]
import workbench
assert workbench.__file__.startswith(root), workbench.__file__
from workbench.cli.app import main
main()
"""


def _run(root: str, args: list[str]) -> tuple[float, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    tick = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RUNNER, root, *args], capture_output=True, env=env)
    wall = time.perf_counter() - tick
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{root} {' '.join(args)} failed: {out.stderr.decode()[-400:]}")
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="checkout measured as the baseline")
    parser.add_argument("--after", default=".", help="checkout measured against it (default: here)")
    parser.add_argument("--workspace", required=True, help="a workspace for `status` (e.g. the demo)")
    parser.add_argument("--runs", type=int, default=10)
    opts = parser.parse_args()
    roots = {"before": str(Path(opts.before).resolve()), "after": str(Path(opts.after).resolve())}
    commands = {"--help": ["--help"], "status": ["status", "-w", opts.workspace]}
    for name, args in commands.items():
        for root in roots.values():
            _run(root, args)  # warm the page cache
        times: dict[str, list[tuple[float, float]]] = {side: [] for side in roots}
        for _ in range(opts.runs):
            for side, root in roots.items():
                times[side].append(_run(root, args))
        for side, pairs in times.items():
            wall = sorted(w for w, _ in pairs)
            cpu = statistics.median(c for _, c in pairs)
            print(
                f"{name:8s} {side:6s} wall median {statistics.median(wall):.3f} s "
                f"(min {wall[0]:.3f}, max {wall[-1]:.3f}), cpu median {cpu:.3f} s, n={len(wall)}"
            )
    print("load average", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
