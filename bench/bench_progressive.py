"""Progressive migration: the coverage curve on real collections, and transition-search latency.

``curve``: :func:`workbench.comparison.progressive.coverage_curve` on a workspace whose old (production) and new columns
are complete; prints nDCG@10 per coverage, priority and merge, and the first coverage where
transition search beats the old column with a 95 % interval above 0.

``latency``: a synthetic table of ``--rows`` rows with two 384-d columns, the new one covering
half the rows (the rest null, as a progressive column is), searched exactly; compares the p50
of one single-column search (the old column, no filter) with the p50 of a transition search's
search part (new column over the covered rows + old column over the others + the merge). Query
encoding is left out (transition search encodes with both models: add one encode of each).
Ratios are measured in the same run.

Usage::

    HF_HUB_OFFLINE=1 python bench/bench_progressive.py curve -w /tmp/cranfield -e cranfield
    python bench/bench_progressive.py latency --rows 100000 --queries 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def curve(args: argparse.Namespace) -> None:
    import workbench as wb
    from workbench.comparison.progressive import coverage_curve

    ws = wb.open_workspace(args.workspace)
    start = time.perf_counter()
    result = coverage_curve(ws, None, args.new, eval_set=args.eval_set)
    seconds = time.perf_counter() - start
    frame = result.frame[result.frame["metric"] == "ndcg@10"]
    print(f"{result.table}: {result.rows} rows, {result.n_queries} judged queries, {seconds:.0f}s")
    for (priority, merge), part in frame.groupby(["priority", "merge"], sort=False):
        cells = " ".join(
            f"{r.coverage:g}:{r.mean:.3f}{'*' if r.delta_low > 0 else ''}"
            for r in part.sort_values("coverage").itertuples()
        )
        print(
            f"  {priority:>9} {merge:<10} {cells}  first win: {result.first_win(str(priority), str(merge))}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=1, default=float))


def latency(args: argparse.Namespace) -> None:
    import lancedb

    from workbench.retrieval.fusion import fuse

    rng = np.random.default_rng(0)
    n, dim = args.rows, 384
    covered = np.zeros(n, dtype=bool)
    covered[rng.permutation(n)[: n // 2]] = True
    hashes = pa.array([f"h{i}" for i in range(n)])
    old = rng.normal(size=(n, dim)).astype(np.float32)
    new = rng.normal(size=(n, dim)).astype(np.float32)
    new_arrow = pa.FixedSizeListArray.from_arrays(pa.array(new.ravel()), dim)
    mask = pa.array(~covered)
    data = pa.table(
        {
            "id": pa.array([f"d{i}" for i in range(n)]),
            "content_hash": hashes,
            "old": pa.FixedSizeListArray.from_arrays(pa.array(old.ravel()), dim),
            "new": pa.compute.if_else(mask, pa.nulls(n, new_arrow.type), new_arrow),
            "src_new": pa.compute.if_else(mask, pa.nulls(n, pa.string()), hashes),
        }
    )
    with tempfile.TemporaryDirectory() as root:
        table = lancedb.connect(root).create_table("t", data, on_bad_vectors="null")
        queries = rng.normal(size=(args.queries, dim)).astype(np.float32)

        def single(q: np.ndarray) -> None:
            table.search(q, vector_column_name="old").distance_type("cosine").limit(10).select(
                ["id", "_distance"]
            ).to_list()

        def transition(q: np.ndarray) -> None:
            lists = []
            # as TransitionIndex searches a column without stale rows: nulls skip themselves
            for column, where in (("new", None), ("old", "src_new IS NULL")):
                found = table.search(q, vector_column_name=column).distance_type("cosine")
                if where is not None:
                    found = found.where(where, prefilter=True)
                rows = found.limit(10).select(["id", "_distance"]).to_list()
                lists.append(([r["id"] for r in rows], [1 - r["_distance"] for r in rows]))
            fuse(*lists[0], *lists[1], k=10)

        timings: dict[str, list[float]] = {"single": [], "transition": []}
        for q in queries[:3]:  # warm the caches
            single(q)
            transition(q)
        for q in queries:  # interleaved, so load changes hit both alike
            for name, run in (("single", single), ("transition", transition)):
                start = time.perf_counter()
                run(q)
                timings[name].append(time.perf_counter() - start)
    p50 = {name: statistics.median(t) * 1000 for name, t in timings.items()}
    print(
        f"{n:,} rows, {args.queries} queries, exact search: single p50 {p50['single']:.1f} ms, "
        f"transition p50 {p50['transition']:.1f} ms, ratio {p50['transition'] / p50['single']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("curve")
    c.add_argument("-w", "--workspace", required=True)
    c.add_argument("-e", "--eval-set", required=True)
    c.add_argument("--new", default="minilm-l6")
    c.add_argument("--json")
    c.set_defaults(run=curve)
    lat = sub.add_parser("latency")
    lat.add_argument("--rows", type=int, default=100_000)
    lat.add_argument("--queries", type=int, default=50)
    lat.set_defaults(run=latency)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
