"""First start and warm commands (issue 26): the demo build, then `search` and `check`, two checkouts.

Each measurement starts a fresh interpreter that imports the ``workbench`` package of the checkout
it is given (as ``bench/bench_startup.py`` does), with its own machine cache
(``WORKBENCH_CACHE``), so the two checkouts never share a converted model or a memo. Runs of the
two checkouts alternate, so a change in the machine's load hits both alike. Reported per command:
wall seconds and CPU seconds (user + system of the child); the CPU figure is what a busy shared
machine distorts least.

Steps, per checkout:

1. ``workbench demo`` into a fresh workspace: ingest, load the two models, embed the corpus with
   each, promote, compare (the first start's build; the ONNX model's conversion is copied into
   each cache from ``--converted`` first, as it is cached after the first start of the day);
2. ``workbench search`` and ``workbench check`` on that workspace, once to warm up (the first
   run of the day), then ``--runs`` times each: the warm figures.

Also timed once: what ``scripts/setup.sh`` costs when nothing changed (``pip install --dry-run``
of the project, the step it skips now).

Example (before = main, after = this checkout)::

    git worktree add /tmp/base main
    .venv/bin/python bench/bench_first_start.py --before /tmp/base --after . --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_startup import RUNNER  # the CLI of one checkout, without the editable install


def run(root: str, args: list[str], cache: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one CLI run of checkout ``root``."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "WORKBENCH_CACHE": str(cache),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    tick = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RUNNER, root, *args], capture_output=True, env=env)
    wall = time.perf_counter() - tick
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{root} {' '.join(args)} failed: {out.stderr.decode()[-600:]}")
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def line(name: str, side: str, pairs: list[tuple[float, float]]) -> str:
    wall = sorted(w for w, _ in pairs)
    cpu = sorted(c for _, c in pairs)
    return (
        f"{name:8s} {side:6s} wall median {statistics.median(wall):6.2f} s "
        f"(range {wall[0]:.2f}-{wall[-1]:.2f}), cpu median {statistics.median(cpu):6.2f} s "
        f"(range {cpu[0]:.2f}-{cpu[-1]:.2f}), n={len(pairs)}"
    )


def pip_noop(root: str) -> float:
    """Seconds of the install step ``scripts/setup.sh`` used to repeat on every app start."""
    tick = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "-e", ".[dev,ray]"],
        cwd=root,
        capture_output=True,
    )
    return time.perf_counter() - tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="checkout measured as the baseline")
    parser.add_argument("--after", default=".", help="checkout measured against it (default: here)")
    parser.add_argument("--runs", type=int, default=5, help="warm runs of search and check per checkout")
    parser.add_argument("--builds", type=int, default=1, help="demo builds per checkout")
    parser.add_argument(
        "--converted",
        type=Path,
        default=Path(os.environ.get("WORKBENCH_CACHE", Path.home() / ".cache" / "embedding-workbench"))
        / "models",
        help="a cache's models/ folder holding the converted MiniLM-L3 (copied into each checkout's cache)",
    )
    opts = parser.parse_args()
    roots = {"before": str(Path(opts.before).resolve()), "after": str(Path(opts.after).resolve())}
    scratch = Path(tempfile.mkdtemp(prefix="bench-first-start-"))
    caches = {side: scratch / f"cache-{side}" for side in roots}
    print("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    try:
        for side in roots:  # the ONNX model converted once, as after the first start
            shutil.copytree(opts.converted, caches[side] / "models", dirs_exist_ok=True)
        builds: dict[str, list[tuple[float, float]]] = {side: [] for side in roots}
        for i in range(opts.builds):
            for side, root in roots.items():
                ws = scratch / f"ws-{side}-{i}"
                builds[side].append(run(root, ["demo", "-w", str(ws)], caches[side]))
                print(line("demo", side, builds[side][-1:]), flush=True)
        commands = {
            "search": ["search", "how do I roll back a model", "-t", "demo"],
            "check": ["check", "-t", "demo"],
        }
        warm: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for name, args in commands.items():
            for side, root in roots.items():  # the first run of the day
                run(root, [*args, "-w", str(scratch / f"ws-{side}-0")], caches[side])
            for _ in range(opts.runs):
                for side, root in roots.items():
                    pairs = warm.setdefault((name, side), [])
                    pairs.append(run(root, [*args, "-w", str(scratch / f"ws-{side}-0")], caches[side]))
        print()
        for side in roots:
            print(line("demo", side, builds[side]))
        for (name, side), pairs in warm.items():
            print(line(name, side, pairs))
        print(
            f"pip install --dry-run (setup.sh's no-op reinstall, now skipped): {pip_noop(roots['after']):.1f} s"
        )
        print("load average at end", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
