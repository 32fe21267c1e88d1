"""A monitoring pass's time and memory at 10k and 1M rows, and the false-alarm rate of healthy passes.

Scale tables start from the demo's production column (432 documents embedded by the real
paraphrase-MiniLM-L3-v2, with its real pin) and add distractor rows whose vectors are those
documents' vectors plus Gaussian noise, so the eval queries (the demo's 52 judged ones, encoded
by the real model) still have their relevant documents in the table. The pass is the full
library call, ``monitor()``, with the model loaded once (load time is reported apart).
Memory is the peak RSS growth during a pass, sampled every 10 ms.

The false-alarm part runs ``--healthy`` (default 50) passes on the demo workspace; between
passes, ``--per-pass`` queries drawn at random from the demo queries (healthy traffic: same
distribution, fresh samples) are logged with the scores a ProductionIndex served them (each
distinct query is served once; serving is deterministic), and counts alarms.

Usage::

    python bench/bench_monitor.py                       # 10k and 1M rows, 50 healthy passes
    python bench/bench_monitor.py --sizes 10000 --healthy 10 --root /tmp/bm
    python bench/bench_monitor.py --index               # also: an IVF_PQ index on the column

Expect about 3 GB of disk and several minutes at 1M rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.contract import content_hash
from workbench.demo import DEMO_TABLE, build_demo
from workbench.models.loading import load_embedder
from workbench.monitoring.config import MonitorConfig
from workbench.monitoring.monitor import monitor
from workbench.production.promote import promote
from workbench.production.serving import ProductionIndex
from workbench.store.evalsets import EvalSet, load_eval_set, save_eval_set
from workbench.store.production import production_column
from workbench.store.query_log import QueryLog
from workbench.store.workspace import Workspace, open_workspace, vector_columns

BATCH = 100_000
NO_MAINTENANCE = MonitorConfig(retire_after="")


class PeakRss:
    """Peak resident memory growth of this process while the block runs (sampled)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0

    def __enter__(self) -> PeakRss:
        self.start = self.process.memory_info().rss
        self.peak = self.start
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1e6


def demo_workspace(root: Path, template: Path | None) -> Workspace:
    path = root / "demo"
    if template is not None and not path.exists():
        shutil.copytree(template, path)
    ws = open_workspace(path)
    build_demo(ws)
    return ws


def scale_table(demo: Workspace, root: Path, rows: int) -> Workspace:
    """A workspace whose table ``bench`` holds the demo documents plus noisy distractors."""
    ws = open_workspace(root / f"scale-{rows}")
    source = demo.table(DEMO_TABLE)
    column = next(c for c in vector_columns(source) if c.name == production_column(source))
    base = source.to_lance().to_table(
        columns=["id", "title", "text", "content_hash", column.name, column.src_column]
    )
    schema = pa.schema([source.schema.field(n) for n in base.column_names])
    vectors = base.column(column.name).combine_chunks().flatten().to_numpy().reshape(-1, column.dim)
    rng = np.random.default_rng(0)
    table = ws.db.create_table("bench", base.cast(schema))
    for start in range(len(base), rows, BATCH):
        n = min(BATCH, rows - start)
        picks = rng.integers(0, len(vectors), size=n)
        noisy = vectors[picks] + rng.normal(0, 0.03, size=(n, column.dim)).astype(np.float32)
        texts = [f"distractor {start + i}" for i in range(n)]
        hashes = [content_hash("", t) for t in texts]
        flat = pa.array(noisy.astype(np.float32).reshape(-1))
        batch = pa.table(
            {
                "id": [f"x{start + i:08d}" for i in range(n)],
                "title": [""] * n,
                "text": texts,
                "content_hash": hashes,
                column.name: pa.FixedSizeListArray.from_arrays(flat, column.dim),
                column.src_column: hashes,
            }
        ).cast(schema)
        table.add(batch)
    queries = load_eval_set(demo, "demo")
    save_eval_set(ws, EvalSet("bench", "bench", queries.queries, queries.qrels))
    promote(ws, "bench", column.name, initial=True, reason="benchmark")
    return ws


def time_passes(ws: Workspace, table: str, embedder, passes: int, clock: datetime) -> None:
    times, growth = [], []
    for i in range(passes):
        with PeakRss() as rss:
            tick = time.perf_counter()
            run = monitor(
                ws, table, embedder=embedder, config=NO_MAINTENANCE, now=clock + timedelta(hours=i + 1)
            )
            times.append(time.perf_counter() - tick)
        growth.append(rss.growth_mb)
        if run.verdict != "ok":  # a finding, not a benchmark failure: report it and keep timing
            print(f"  pass {run.seq}: ALARM: {'; '.join(run.alarms)}")
    rows = ws.table(table).count_rows()
    print(
        f"  {rows:>9,} rows: pass {min(times):.2f}–{max(times):.2f} s (median {statistics.median(times):.2f}, "
        f"{passes} passes), peak RSS growth {min(growth):.0f}–{max(growth):.0f} MB"
    )


def healthy_passes(demo: Workspace, root: Path, embedder, passes: int, per_pass: int) -> None:
    path = root / "healthy"
    shutil.copytree(demo.uri, path)
    ws = open_workspace(path)
    pool = list(load_eval_set(ws, "demo").queries.values())
    moment = [datetime.now(UTC) + timedelta(minutes=1)]

    def clock() -> datetime:
        moment[0] += timedelta(seconds=1)
        return moment[0]

    log = QueryLog(ws, clock=clock, flush_every=10_000)
    index = ProductionIndex.open(ws, DEMO_TABLE, embedder=embedder)
    # Serving is deterministic: a query always gets the same scores from the same version. Serve
    # each distinct query once, then log resampled traffic with exactly those scores (what the
    # serving path would write), so 50 passes fit in minutes on a busy machine.
    served = {text: [hit.score for hit in index.search(text, k=10).hits] for text in pool}
    rng = np.random.default_rng(1)
    verdicts, alarms = [], []
    tick = time.perf_counter()
    for _ in range(passes):
        for text in rng.choice(pool, size=per_pass):
            log.record(
                DEMO_TABLE,
                query=str(text),
                version=index.version,
                column=index.column.name,
                scores=served[str(text)],
            )
        log.flush()
        moment[0] += timedelta(hours=1)
        run = monitor(ws, DEMO_TABLE, embedder=embedder, config=NO_MAINTENANCE, now=moment[0])
        verdicts.append(run.verdict)
        alarms.extend(run.alarms)
        print(f"    pass {run.seq}: {run.verdict} ({run.duration_s:.1f} s)", flush=True)
    elapsed = time.perf_counter() - tick
    n_alarm = verdicts.count("alarm")
    print(
        f"  {passes} healthy passes ({per_pass} logged queries each): {n_alarm} alarm(s), false-alarm "
        f"rate {n_alarm / passes:.3f}; {elapsed:.0f} s in all"
    )
    for alarm in alarms:
        print(f"    {alarm}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 1_000_000], help="0 or none: skip")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--healthy", type=int, default=50)
    parser.add_argument("--per-pass", type=int, default=100)
    parser.add_argument("--index", action="store_true", help="also time passes with an IVF_PQ index")
    parser.add_argument("--root", type=Path, default=Path("/tmp/bench-monitor"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--skip-flat", action="store_true", help="with --index: time only indexed passes")
    parser.add_argument("--demo", type=Path, help="copy this built demo workspace instead of building one")
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    try:
        demo = demo_workspace(args.root, args.demo)
        column = next(
            c
            for c in vector_columns(demo.table(DEMO_TABLE))
            if c.name == production_column(demo.table(DEMO_TABLE))
        )
        tick = time.perf_counter()
        embedder = load_embedder(column.ref)
        print(f"model load + fingerprint: {time.perf_counter() - tick:.1f} s (not counted below)")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
        clock = datetime.now(UTC) + timedelta(minutes=1)
        for rows in [r for r in args.sizes if r > 0]:
            tick = time.perf_counter()
            ws = scale_table(demo, args.root, rows)
            print(f"built {rows:,} rows in {time.perf_counter() - tick:.0f} s")
            if not args.skip_flat:
                time_passes(ws, "bench", embedder, args.passes + 1, clock)  # the first is the baseline pass
            if args.index:
                from lancedb.index import IvfPq

                from workbench.production.promote import refresh

                tick = time.perf_counter()
                ws.table("bench").create_index(column.name, config=IvfPq(distance_type="cosine"))
                refresh(ws, "bench", reason="index")
                print(f"  IVF_PQ index built in {time.perf_counter() - tick:.0f} s; with the index:")
                time_passes(ws, "bench", embedder, args.passes + 1, clock + timedelta(days=1))
            if not args.keep:
                shutil.rmtree(ws.uri)
        if args.healthy:
            healthy_passes(demo, args.root, embedder, args.healthy, args.per_pass)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        if not args.keep:
            shutil.rmtree(args.root, ignore_errors=True)


if __name__ == "__main__":
    main()
