"""`workbench serve` over HTTP: latency vs in-process, throughput, shadow overhead, swap time.

The tables are :mod:`bench_scale`'s (SciFact blends of real vectors, both catalog models
``minilm-l3`` and ``minilm-l6``, production promoted ``--initial`` on ``minilm-l3``), each column
with its ANN index (IVF_HNSW_SQ below 50k rows, IVF_PQ above), production refreshed onto the
indexed version. Queries are the 300 SciFact test queries (as text: both the service and the
in-process index encode them with the production column's own pinned model).

Per table size, against real ``workbench serve`` subprocesses on 127.0.0.1:

1. **Latency.** ``POST /search`` (k=10, one keep-alive httpx connection) vs
   ``ProductionIndex.search`` in this process (in a worker thread, as the service runs it) on
   the same table and query, alternating query by query so both see the same load; p50/p99 per round and pooled. The overhead is
   ``p50(HTTP) - p50(in-process)`` (goal ≤ 2 ms), and, less noisy, the median per request of
   HTTP wall time minus the ``took_ms`` the service reports for its own search.
2. **Throughput.** Requests/s of ``--workers 1`` and ``--workers 2`` servers (both running;
   rounds alternate between them), a client of ``--threads`` threads each sending
   ``POST /search`` on a new connection per request (so connections spread over the workers).
3. **Shadow overhead.** p50 of production answers with no rollout vs with
   ``start_shadow(..., sample=0.2)`` (what ``workbench rollout shadow minilm-l6 --sample 0.2``
   runs) in force, blocks alternating, ``abort_rollout`` between them (goal ≤ 5 % p50).
4. **Swap time.** ``promote(..., force=True)`` (what ``workbench promote COLUMN --force`` runs),
   then from its return until ``GET /production`` names the new column, polled every 20 ms;
   alternately to ``minilm-l6`` and back, with ``--interval 2`` (the default) and a small one.
   The service's own validation time for the swap (from ``/production``'s ``swaps``) is printed
   beside it. Production is back on ``minilm-l3`` at the end.

Usage::

    python bench/bench_serve.py --rows 10000 100000 --root /tmp/bench_serve --keep
    python bench/bench_serve.py --rows 100000 --root /tmp/bench_serve --reuse --keep --rounds 5

``--reuse`` serves an indexed table kept by an earlier run. Results: ``ROOT/serve_results.json``.
The machine's load (``uptime``) is printed before and after each size: quote it with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_scale import ALIASES, REPO, SCIFACT, TABLE, build_table, index_table, seeds  # noqa: E402

K = 10


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its children (uvicorn's workers)."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the table ---------------------------------------------------------------------------


def prepare(ws_path: Path, rows: int, data: dict[str, Any], *, reuse: bool) -> dict[str, Any]:
    """A table of ``rows`` rows, both columns indexed, production (minilm-l3) on the indexed version."""
    from workbench.models.catalog import CATALOG
    from workbench.store.index import describe_indexes
    from workbench.store.workspace import open_workspace

    cols = [CATALOG[a].column for a in ALIASES]
    if reuse and (ws_path / f"{TABLE}.lance").is_dir():
        ws = open_workspace(ws_path)
        if set(cols) <= set(describe_indexes(ws.table(TABLE))):
            return {"reused": True}
    shutil.rmtree(ws_path, ignore_errors=True)
    tick = time.perf_counter()
    build_table(ws_path, rows, data)
    built = {"table_s": round(time.perf_counter() - tick, 1)}
    built.update(index_table(open_workspace(ws_path), cols))
    return built


# --- servers and clients ------------------------------------------------------------------


@contextmanager
def server(ws_path: Path, *, workers: int = 1, interval: float = 2.0, log: Path) -> Iterator[tuple[str, int]]:
    """``workbench serve`` in a subprocess; yields its base URL and pid once every worker is ready."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "workbench.cli", "serve", "--port", str(port), "-w", str(ws_path),
        "-t", TABLE, "--workers", str(workers), "--interval", str(interval),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        ready = 0
        while ready < 10 * workers:  # fresh connections, so every worker gets asked
            if proc.poll() is not None:
                raise SystemExit(f"the server exited ({proc.returncode}); see {log}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the server was not ready in 600 s; see {log}")
            try:
                ready = ready + 1 if httpx.get(f"{url}/ready", timeout=10).status_code == 200 else 0
            except httpx.HTTPError:
                ready = 0
            time.sleep(0.05 if ready else 0.5)
        yield url, proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post(client: httpx.Client, query: str) -> tuple[float, dict[str, Any]]:
    tick = time.perf_counter()
    response = client.post("/search", json={"query": query, "k": K})
    ms = (time.perf_counter() - tick) * 1000.0
    if response.status_code != 200:
        raise SystemExit(f"/search answered {response.status_code}: {response.text[:300]}")
    return ms, response.json()


def timed_block(url: str, pid: int, queries: list[str]) -> dict[str, Any]:
    """Sequential ``/search`` on one keep-alive connection: wall ms, the service's ``took_ms``,
    and the server's CPU ms per request (over the block)."""
    wall, took = [], []
    with httpx.Client(base_url=url, timeout=120) as client:
        cpu = cpu_s(pid)
        for query in queries:
            ms, body = post(client, query)
            wall.append(ms)
            took.append(body["took_ms"])
        cpu = cpu_s(pid) - cpu
    return {"wall": wall, "took": took, "cpu_ms": cpu * 1000.0 / len(queries)}


def production_of(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/production", timeout=30).json()  # type: ignore[no-any-return]


def wait(condition: Callable[[], bool], what: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


# --- the measurements ---------------------------------------------------------------------


def latency(url: str, pid: int, ws_path: Path, queries: list[str], rounds: int) -> dict[str, Any]:
    """HTTP vs in-process, query by query alternating, ``rounds`` passes over the queries."""
    from workbench.production.serving import ProductionIndex
    from workbench.store.workspace import open_workspace

    index = ProductionIndex.open(open_workspace(ws_path), TABLE)
    # The service runs each search in a worker thread (FastAPI runs a sync endpoint in its thread
    # pool); the baseline does the same. On this oversubscribed machine torch's 2-thread
    # intra-op team on the main thread was 5-15x slower in wall time (and up to 10x in CPU).
    thread = ThreadPoolExecutor(max_workers=1)
    per_round = []
    pooled: dict[str, list[float]] = {"http": [], "inproc": [], "gap": [], "cpu_server": [], "cpu_inproc": []}
    differ = 0
    with httpx.Client(base_url=url, timeout=120) as client:
        for query in queries[:10]:  # warm-up both paths
            thread.submit(index.search, query, k=K).result()
            post(client, query)
        for _ in range(rounds):
            http, inproc, gap = [], [], []
            cpu_inproc = cpu_server = 0.0
            for query in queries:
                tick, cpu = time.perf_counter(), time.process_time()
                found = thread.submit(index.search, query, k=K).result()
                inproc.append((time.perf_counter() - tick) * 1000.0)
                cpu_inproc += time.process_time() - cpu
                cpu = cpu_s(pid)
                ms, body = post(client, query)
                cpu_server += cpu_s(pid) - cpu
                http.append(ms)
                gap.append(ms - body["took_ms"])
                differ += [r["id"] for r in body["results"]] != [h.id for h in found.hits]
            one = {
                "http_p50": pct(http, 50), "http_p99": pct(http, 99),
                "inproc_p50": pct(inproc, 50), "inproc_p99": pct(inproc, 99),
                "overhead_p50": pct(http, 50) - pct(inproc, 50),
                "http_minus_took_p50": pct(gap, 50),
                "cpu_ms_server": cpu_server * 1000.0 / len(queries),
                "cpu_ms_inproc": cpu_inproc * 1000.0 / len(queries),
            }  # fmt: skip
            per_round.append({k: round(v, 2) for k, v in one.items()})
            print(f"    latency round: {json.dumps(per_round[-1])}  load {load()}", flush=True)
            pooled["http"] += http
            pooled["inproc"] += inproc
            pooled["gap"] += gap
            pooled["cpu_server"].append(one["cpu_ms_server"])
            pooled["cpu_inproc"].append(one["cpu_ms_inproc"])
    return {
        "index": index.searched_with,
        "queries": len(queries),
        "answers_differing": differ,
        "rounds": per_round,
        "pooled": {
            "http_p50": round(pct(pooled["http"], 50), 2),
            "http_p99": round(pct(pooled["http"], 99), 2),
            "inproc_p50": round(pct(pooled["inproc"], 50), 2),
            "inproc_p99": round(pct(pooled["inproc"], 99), 2),
            "overhead_p50": round(pct(pooled["http"], 50) - pct(pooled["inproc"], 50), 2),
            "http_minus_took_p50": round(pct(pooled["gap"], 50), 2),
            "cpu_ms_server_per_request": [round(v, 2) for v in pooled["cpu_server"]],
            "cpu_ms_inproc_per_search": [round(v, 2) for v in pooled["cpu_inproc"]],
        },
    }


def throughput(url: str, pid: int, queries: list[str], threads: int, requests: int) -> tuple[float, float]:
    """Requests/s of ``requests`` searches sent by ``threads`` threads, a new connection each,
    and the server's CPU ms per request (all its workers)."""
    counter = iter(range(requests))
    lock = threading.Lock()
    failures: list[str] = []

    def worker() -> None:
        with httpx.Client(
            base_url=url, timeout=120, limits=httpx.Limits(max_keepalive_connections=0)
        ) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                response = client.post("/search", json={"query": queries[i % len(queries)], "k": K})
                if response.status_code != 200:
                    failures.append(response.text[:200])

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    cpu = cpu_s(pid)
    tick = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    seconds = time.perf_counter() - tick
    cpu = cpu_s(pid) - cpu
    if failures:
        raise SystemExit(f"{len(failures)} failed requests: {failures[0]}")
    return requests / seconds, cpu * 1000.0 / requests


def shadow_overhead(url: str, pid: int, ws_path: Path, queries: list[str], rounds: int) -> dict[str, Any]:
    """p50 of production answers without and with a 20 % shadow rollout, blocks alternating."""
    from workbench.models.catalog import CATALOG
    from workbench.models.loading import load_embedder
    from workbench.production.rollout import abort_rollout, start_shadow
    from workbench.store.workspace import open_workspace

    ws = open_workspace(ws_path)
    ref = CATALOG[ALIASES[1]]
    model = load_embedder(ref)
    reps = []
    for _ in range(rounds):
        base = timed_block(url, pid, queries)
        start_shadow(ws, TABLE, ref.column, sample=0.2, reason="bench", embedder=model)
        wait(lambda: (production_of(url).get("rollout") or {}).get("action") == "shadow", "the shadow")
        timed_block(url, pid, queries[:10])  # warm-up: the candidate's first searches
        shadow = timed_block(url, pid, queries)
        state = production_of(url)["rollout"]
        abort_rollout(ws, TABLE, reason="bench")
        wait(lambda: production_of(url).get("rollout") is None, "the abort")
        one = {
            "base_p50": pct(base["wall"], 50), "shadow_p50": pct(shadow["wall"], 50),
            "ratio_p50": pct(shadow["wall"], 50) / pct(base["wall"], 50),
            "base_p99": pct(base["wall"], 99), "shadow_p99": pct(shadow["wall"], 99),
            "took_ratio_p50": pct(shadow["took"], 50) / pct(base["took"], 50),
            "cpu_ms_base": base["cpu_ms"], "cpu_ms_shadow": shadow["cpu_ms"],
            "shadow_recorded": state.get("shadow_recorded"), "shadow_dropped": state.get("shadow_dropped"),
        }  # fmt: skip
        reps.append({k: round(v, 3) if isinstance(v, float) else v for k, v in one.items()})
        print(f"    shadow rep: {json.dumps(reps[-1])}  load {load()}", flush=True)
    return {
        "reps": reps,
        "ratio_p50_range": [min(r["ratio_p50"] for r in reps), max(r["ratio_p50"] for r in reps)],
    }


def swap_times(url: str, ws_path: Path, swaps: int, interval: float) -> list[dict[str, Any]]:
    """Seconds from ``promote`` returning to ``/production`` naming the new column, ``swaps`` times.

    Each promotion waits a random time in [0, interval) first: promoting right after the last
    swap was seen would always land just after the follower's check (a full interval's wait).
    """
    from workbench.models.catalog import CATALOG
    from workbench.production.promote import promote
    from workbench.store.workspace import open_workspace

    ws = open_workspace(ws_path)
    cols = [CATALOG[a].column for a in ALIASES]
    out = []
    rng = random.Random(0)
    for i in range(swaps):
        target = cols[(i + 1) % 2]
        time.sleep(rng.uniform(0, interval))
        tick = time.perf_counter()
        promote(ws, TABLE, target, force=True, reason="bench swap")
        returned = time.perf_counter()
        while (body := production_of(url))["production"]["column"] != target:
            if time.perf_counter() - returned > 300:
                raise SystemExit(f"no swap to {target} in 300 s: {body.get('problem')}")
            time.sleep(0.02)
        seen = time.perf_counter()
        swap = [s for s in body.get("swaps", []) if s["kind"] == "production"][-1]
        out.append(
            {
                "to": ALIASES[(i + 1) % 2],
                "promote_s": round(returned - tick, 3),
                "swap_s": round(seen - returned, 3),
                "validation_s": round(swap["seconds"], 3),
            }
        )
        print(f"    swap: {json.dumps(out[-1])}  load {load()}", flush=True)
    if swaps % 2:  # production back on minilm-l3
        promote(ws, TABLE, cols[0], force=True, reason="bench swap back")
    return out


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}, range {min(values):.2f}–{max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--root", type=Path, default=Path("/tmp/bench_serve"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bench_scale_cache"))
    parser.add_argument("--rounds", type=int, default=3, help="Repetitions of every measurement.")
    parser.add_argument("--queries", type=int, default=100, help="SciFact test queries per block.")
    parser.add_argument("--threads", type=int, default=4, help="Client threads for the throughput.")
    parser.add_argument("--requests", type=int, default=100, help="Requests per throughput round.")
    parser.add_argument("--swaps", type=int, default=6, help="Promotions per interval.")
    parser.add_argument("--small-interval", type=float, default=0.2)
    parser.add_argument(
        "--parts", nargs="+", default=["latency", "throughput", "shadow", "swap"],
        choices=["latency", "throughput", "shadow", "swap"],
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="Keep the tables (else deleted at the end).")
    parser.add_argument("--reuse", action="store_true", help="Serve an indexed table kept by an earlier run.")
    args = parser.parse_args()
    if not (SCIFACT / "corpus.jsonl").is_file():
        raise SystemExit(f"{SCIFACT} is absent: this benchmark needs the SciFact collection")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = seeds(args.cache)
    queries = [data["queries"][q] for q in data["query_ids"]][: args.queries]
    results: dict[int, dict[str, Any]] = {}
    for rows in args.rows:
        ws_path = args.root / f"ws{rows}"
        found: dict[str, Any] = {"load_before": load()}
        print(f"\n== {rows:,} rows  load {load()}", flush=True)
        found["prepare"] = prepare(ws_path, rows, data, reuse=args.reuse)
        print(f"  table: {json.dumps(found['prepare'])}", flush=True)
        logs = args.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with server(ws_path, workers=1, log=logs / f"serve{rows}-1.log") as (one, one_pid):
            if "latency" in args.parts:
                found["latency"] = latency(one, one_pid, ws_path, queries, args.rounds)
                print(f"  latency: {json.dumps(found['latency']['pooled'])}", flush=True)
            if "throughput" in args.parts:
                with server(ws_path, workers=2, log=logs / f"serve{rows}-2.log") as (two, two_pid):
                    rps: dict[str, list[float]] = {"1": [], "2": []}
                    cpu: dict[str, list[float]] = {"1": [], "2": []}
                    throughput(two, two_pid, queries, args.threads, 20)  # warm-up
                    for _ in range(args.rounds):
                        for workers, url, pid in (("1", one, one_pid), ("2", two, two_pid)):
                            r, c = throughput(url, pid, queries, args.threads, args.requests)
                            rps[workers].append(r)
                            cpu[workers].append(c)
                        print(f"    throughput: 1 worker {rps['1'][-1]:.1f}/s, 2 workers {rps['2'][-1]:.1f}/s"
                              f"  load {load()}", flush=True)  # fmt: skip
                found["throughput"] = {
                    "rps_1": [round(v, 1) for v in rps["1"]],
                    "rps_2": [round(v, 1) for v in rps["2"]],
                    "ratio_2_over_1": [round(b / a, 2) for a, b in zip(rps["1"], rps["2"], strict=True)],
                    "cpu_ms_per_request_1": [round(v, 1) for v in cpu["1"]],
                    "cpu_ms_per_request_2": [round(v, 1) for v in cpu["2"]],
                }
                print(f"  throughput: {json.dumps(found['throughput'])}", flush=True)
            if "shadow" in args.parts:
                found["shadow"] = shadow_overhead(one, one_pid, ws_path, queries, args.rounds)
            if "swap" in args.parts:
                found["swap_interval_2"] = swap_times(one, ws_path, args.swaps, 2.0)
        if "swap" in args.parts:
            with server(ws_path, interval=args.small_interval, log=logs / f"serve{rows}-small.log") as (
                fast,
                _,
            ):
                found["swap_interval_small"] = swap_times(fast, ws_path, args.swaps, args.small_interval)
            for key in ("swap_interval_2", "swap_interval_small"):
                print(f"  {key}: swap {summary([s['swap_s'] for s in found[key]])} s;"
                      f" validation {summary([s['validation_s'] for s in found[key]])} s", flush=True)  # fmt: skip
        found["load_after"] = load()
        results[rows] = found
        if not args.keep:
            shutil.rmtree(ws_path, ignore_errors=True)
    out = args.root / "serve_results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    earlier = json.loads(out.read_text()) if out.is_file() else {}  # other sizes' runs are kept
    out.write_text(json.dumps({**earlier, **{str(k): v for k, v in results.items()}}, indent=2, default=str))
    print(f"\nresults in {out}")


if __name__ == "__main__":
    main()
