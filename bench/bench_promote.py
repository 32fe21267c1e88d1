"""Promotion and rollback times at 10k, 100k and 1M rows, and a concurrent reader's counts.

Tables are synthetic: random 384-d vectors in two vector columns whose field metadata carries a
valid (made-up) ``ModelRef``, built directly with LanceDB. The comparison is hand-made with
synthetic numbers but stored and gated for real (``load_comparison`` + the default gate + the
"same data" check), so the timed ``promote`` is the full library call: resolve, health check,
gate, metadata version, tags, history row. Queries use an injected embedder that returns a
fixed random vector with the column's pin (no model files are needed).

Usage::

    python bench/bench_promote.py                      # 10k, 100k, 1M; reader at 100k
    python bench/bench_promote.py --sizes 10000 --reader-rows 10000 --root /tmp/bp

Expect about 8 GB of disk and a few minutes at 1M rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.contract import candidate_tag
from workbench.models.ref import ModelRef
from workbench.production.promote import promote, refresh, rollback
from workbench.production.retire import retire
from workbench.production.serving import ProductionIndex, check
from workbench.store.comparisons import KS, Comparison, Manifest, save_comparison
from workbench.store.status import column_problems, corpus_digest
from workbench.store.workspace import Workspace, column_metadata, open_workspace

DIM = 384
TABLE = "bench"
BATCH = 100_000
REPS = 5


def fake_ref(name: str) -> ModelRef:
    """A valid pin for a model that exists only in this benchmark."""
    return ModelRef(
        name=f"bench/{name}",
        source="path",
        location=f"/nonexistent/{name}",
        revision="bench-1",
        fingerprint=hashlib.sha256(name.encode()).hexdigest(),
        dim=DIM,
    )


A, B = fake_ref("model-a"), fake_ref("model-b")


class RandomEmbedder:
    """An embedder with a column's pin that encodes every query to one fixed random vector."""

    def __init__(self, ref: ModelRef, seed: int = 0) -> None:
        self.ref = ref
        vector = np.random.default_rng(seed).standard_normal(ref.dim).astype(np.float32)
        self.vector = vector / np.linalg.norm(vector)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return np.tile(self.vector, (len(texts), 1))

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self.encode_queries(texts)


def schema() -> pa.Schema:
    fields = [pa.field(n, pa.string()) for n in ("id", "title", "text", "content_hash")]
    for ref in (A, B):
        fields.append(pa.field(ref.column, pa.list_(pa.float32(), DIM), metadata=column_metadata(ref)))
        fields.append(pa.field(ref.src_column, pa.string()))
    return pa.schema(fields)


def batches(rows: int, start: int = 0, salt: str = "") -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(start + len(salt))
    for lo in range(start, start + rows, BATCH):
        hi = min(start + rows, lo + BATCH)
        ids = [f"d{i:08d}" for i in range(lo, hi)]
        texts = [f"document {i}{salt}" for i in range(lo, hi)]
        hashes = pa.array([hashlib.sha256(t.encode()).hexdigest() for t in texts])
        columns: list[pa.Array] = [pa.array(ids), pa.array(["t"] * len(ids)), pa.array(texts), hashes]
        for _ in (A, B):
            flat = rng.standard_normal((hi - lo) * DIM, dtype=np.float32)
            columns += [pa.FixedSizeListArray.from_arrays(pa.array(flat), DIM), hashes]
        yield pa.RecordBatch.from_arrays(columns, schema=schema())


def build(root: Path, rows: int) -> Workspace:
    path = root / f"ws-{rows}"
    shutil.rmtree(path, ignore_errors=True)
    ws = open_workspace(path)
    table = ws.db.create_table(TABLE, pa.RecordBatchReader.from_batches(schema(), batches(rows)))
    for ref in (A, B):  # as `workbench embed` tags the version where a column appears, whole
        table.tags.create(candidate_tag(ref.column), table.version)
    return ws


def store_comparison(ws: Workspace, comparison_id: str = "cmp-bench") -> str:
    """A comparison of B (candidate) against A (baseline) on the current data; numbers made up."""
    table = ws.table(TABLE)
    deltas = pd.DataFrame(
        {"baseline": [0.5, 0.8], "candidate": [0.55, 0.8], "delta": [0.05, 0.0], "ci_low": [0.01, -0.005],
         "ci_high": [0.09, 0.005], "p_ttest": [0.01, 1.0], "p_permutation": [0.01, 1.0], "wins": [30, 5],
         "ties": [10, 40], "losses": [10, 5], "n": [50, 50], "mde": [0.03, 0.02]},
        index=pd.Index(["ndcg@10", "recall@100"], name="metric"),
    )  # fmt: skip
    manifest = Manifest(
        table=TABLE, table_version=table.version, corpus_digest=corpus_digest(table),
        baseline_column=A.column, candidate_column=B.column, baseline_pin=A.model_dump(),
        candidate_pin=B.model_dump(), eval_set="bench", eval_set_hash="0" * 64, k_values=[10, 100],
        metrics=list(deltas.index), n_queries=50, n_judged=50, n_unjudged=0,
        created_at=datetime.now(UTC).isoformat(), library_versions={}, headline_metric="ndcg@10",
    )  # fmt: skip
    empty = pd.DataFrame()
    comparison = Comparison(
        comparison_id, manifest, "synthetic", deltas, empty, empty, empty, empty, KS(0.0, 1.0)
    )
    save_comparison(ws, comparison)
    return comparison.id


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(root: Path, rows: int) -> dict[str, float]:
    start = time.perf_counter()
    ws = build(root, rows)
    build_s = time.perf_counter() - start
    cmp_id = store_comparison(ws)
    promote(ws, TABLE, A.column, initial=True, reason="bench")
    promotes, rollbacks = [], []
    for _ in range(REPS):
        promotes.append(timed(lambda: promote(ws, TABLE, B.column, comparison=cmp_id)))
        rollbacks.append(timed(lambda: rollback(ws, TABLE)))
    dual_write(ws, rows)  # new documents: the health scan and a fresh comparison are needed again
    fresh = store_comparison(ws, "cmp-bench-2")
    after_ingest = timed(lambda: promote(ws, TABLE, B.column, comparison=fresh))
    rollback(ws, TABLE)
    table = ws.table(TABLE)
    column = ws.resolve_column(table, A.column)
    embedder = RandomEmbedder(A)
    index = ProductionIndex.open(ws, TABLE, embedder=embedder)
    return {
        "rows": rows,
        "build_s": build_s,
        "promote_median_s": statistics.median(promotes),
        "promote_max_s": max(promotes),
        "promote_after_ingest_s": after_ingest,
        "rollback_median_s": statistics.median(rollbacks),
        "rollback_max_s": max(rollbacks),
        "health_scan_s": timed(lambda: column_problems(table, column, read_vectors=False)),
        "digest_full_s": timed(lambda: corpus_digest(table)),
        "check_startup_s": timed(lambda: check(ws, TABLE, embedder=embedder)),
        "search_flat_s": timed(lambda: index.search("q", k=10)),
    }


# --- the concurrent reader ---------------------------------------------------------------------


def _view(index: ProductionIndex) -> tuple[Any, ...]:
    result = index.search("q", k=5)
    return result.version, result.column, tuple(h.id for h in result.hits), index.table.count_rows()


def reader(ws_path: str, ready: str, stop: str, out: str) -> None:
    """Second process: a pinned view that must not change and a follower that must stay coherent."""
    ws = open_workspace(ws_path)
    embedders = {ref.column: RandomEmbedder(ref) for ref in (A, B)}
    pinned = ProductionIndex.open(ws, TABLE, embedder=embedders[A.column])
    expected = _view(pinned)
    follower, seen = pinned, {pinned.version: expected}
    counts: dict[str, Any] = {"reads": 0, "pinned_inconsistent": 0, "followed_inconsistent": 0, "errors": []}
    Path(ready).touch()
    while not Path(stop).exists():
        counts["reads"] += 1
        try:
            counts["pinned_inconsistent"] += _view(pinned) != expected
            follower = follower.follow(embedders)
            view = _view(follower)
            healthy = column_problems(follower.table, follower.column, read_vectors=False) == (0, 0)
            stable = seen.setdefault(follower.version, view) == view
            counts["followed_inconsistent"] += not (stable and healthy and len(view[2]) == 5)
        except Exception as exc:  # every failure is an inconsistent read
            counts["errors"].append(repr(exc))
    counts["versions_followed"] = sorted(seen)
    Path(out).write_text(json.dumps(counts))


def dual_write(ws: Workspace, rows: int) -> None:
    """What ingest does for changed documents: new text, hash and vectors in every column, one version."""
    changed = pa.Table.from_batches(list(batches(min(rows, 1000), salt=" (edited)")))
    ws.table(TABLE).merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(
        changed
    )


def concurrent(root: Path, rows: int) -> dict[str, Any]:
    ws = build(root, rows)
    cmp_id = store_comparison(ws)
    promote(ws, TABLE, A.column, initial=True, reason="bench")
    files = {n: root / f"reader-{n}" for n in ("ready", "stop", "out")}
    for f in files.values():
        f.unlink(missing_ok=True)
    args = [sys.executable, __file__, "--reader", ws.uri, *map(str, files.values())]
    proc = subprocess.Popen(args, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    while not files["ready"].exists():
        if proc.poll() is not None:
            raise SystemExit("the reader process died")
        time.sleep(0.05)
    steps = [
        lambda: promote(ws, TABLE, B.column, comparison=cmp_id),
        lambda: rollback(ws, TABLE),
        lambda: promote(ws, TABLE, B.column, comparison=cmp_id),
        lambda: dual_write(ws, rows),
        lambda: refresh(ws, TABLE),
        lambda: retire(ws, TABLE, A.column, grace=timedelta(0)),
    ]
    for step in steps:
        step()
        time.sleep(max(1.0, rows / 40_000))  # a few reads between steps, even when reads are slow
    files["stop"].touch()
    proc.wait(timeout=300)
    counts = json.loads(files["out"].read_text())
    return {"rows": rows, **counts, "errors": len(counts["errors"]), "first_errors": counts["errors"][:3]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--reader-rows", type=int, default=100_000)
    parser.add_argument("--root", type=Path, default=Path("/tmp/bench-promote"))
    parser.add_argument("--keep", action="store_true", help="Keep the workspaces.")
    parser.add_argument("--reader", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader:
        reader(*args.reader)
        return
    args.root.mkdir(parents=True, exist_ok=True)
    header = f"{'rows':>9} {'promote med/max s':>18} {'after ingest':>12} {'rollback med/max s':>19}"
    print(header + f" {'scan':>7} {'digest':>7} {'check':>7} {'search':>7} {'build':>7}")
    for rows in args.sizes:
        r = measure(args.root, rows)
        print(
            f"{rows:>9,} {r['promote_median_s']:>8.3f} / {r['promote_max_s']:<7.3f} "
            f"{r['promote_after_ingest_s']:>12.3f} "
            f"{r['rollback_median_s']:>8.3f} / {r['rollback_max_s']:<8.3f} {r['health_scan_s']:>7.3f} "
            f"{r['digest_full_s']:>7.3f} {r['check_startup_s']:>7.3f} {r['search_flat_s']:>7.3f} "
            f"{r['build_s']:>7.1f}",
            flush=True,
        )
        if not args.keep:
            shutil.rmtree(args.root / f"ws-{rows}", ignore_errors=True)
    print(
        f"\nconcurrent reader at {args.reader_rows:,} rows (promote, rollback, promote, dual-write, refresh, retire):"
    )
    print(json.dumps(concurrent(args.root, args.reader_rows), indent=2))
    if not args.keep:
        shutil.rmtree(args.root, ignore_errors=True)


if __name__ == "__main__":
    main()
