"""Scale: ANN index build, serving latency and recall, check, status, promote, compare at 10k–1M rows.

Scale data keeps real structure (random Gaussian vectors have no clusters, so every ANN index
looks broken on them): SciFact documents (the first 2,000 plus every judged one, their first
400 characters) are embedded once by both real
catalog models (``minilm-l3``, ``minilm-l6``; cached in ``--cache``). Copy 0 of document ``d`` is
its real vector, with the real SciFact id, so the SciFact qrels still judge it; copy ``c > 0`` is a
blend with a random partner document ``p``, ``normalise(w·v(d) + (1 − w)·v(p) + sigma·noise)``
with ``w ~ U(0.55, 0.9)`` (the same ``p`` and ``w`` in both models' columns). Blends stay in the
span of real vectors (topics, clusters) without the degenerate near-duplicate clusters that
plain noisy copies make at scale: at 1M rows every document would have ~460 copies at cosine
≈ 0.87 to each other, and "the exact top 10 of 460 near-ties" is not a question any index (or
any user) cares about — measured: recall@10 0.54 through IVF_PQ at 1M on noisy copies.
Queries are the 300 SciFact test queries, encoded by each column's own model.

Each measurement runs in a fresh subprocess (``--op``) so its peak RSS (``VmHWM``) is its own.

Usage::

    python bench/bench_scale.py --rows 10000 100000 1000000 --root /tmp/scale
    python bench/bench_scale.py --rows 10000 --root /tmp/scale --keep

About 3.3 GB of disk per million rows; the folder is deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_SHARED = [Path(p) for p in (os.environ.get("WORKBENCH_SHARED_DATA"), REPO.parent / "shared" / "data") if p]
SCIFACT = next((p for p in _SHARED if (p / "scifact").is_dir()), Path("/work/shared/data")) / "scifact"
ALIASES = ("minilm-l3", "minilm-l6")
TABLE = "scale"
BATCH = 50_000
SEED_DOCS = 2_000  # SciFact documents embedded for real (plus every judged one)
SEED_CHARS = 400  # first characters of each (keeps the one-off embedding short on a busy machine)
SIGMA = 0.01  # per dimension, added to each blend
TUNE_GRID = [(16, 10), (32, 10), (32, 30), (64, 30), (64, 50), (128, 50)]  # (nprobes, refine_factor)
# (override with TUNE_GRID="16x50 32x50" in the environment)


def vmhwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- data ----------------------------------------------------------------------------------


def seeds(cache: Path) -> dict[str, Any]:
    """Real document and query vectors of SciFact for both models (computed once, cached)."""
    path = cache / "scifact_seeds.npz"
    meta = cache / "scifact_meta.json"
    if path.is_file() and meta.is_file():
        data = dict(np.load(path))
        return {**data, **json.loads(meta.read_text())}
    from workbench.contract import document_text
    from workbench.corpus.readers import read_collection
    from workbench.models.catalog import CATALOG
    from workbench.models.loading import load_embedder

    collection = read_collection(SCIFACT)
    qids = sorted(q for q in collection.qrels if q in collection.queries)
    judged = {d for q in qids for d in collection.qrels[q]}
    corpus = collection.corpus
    all_ids = corpus.column("id").to_pylist()
    keep = [i for i, d in enumerate(all_ids) if d in judged or i < SEED_DOCS]  # every judged document
    corpus = corpus.take(pa.array(keep))
    texts = [
        document_text(t or "", x or "")[:SEED_CHARS]
        for t, x in zip(corpus.column("title").to_pylist(), corpus.column("text").to_pylist(), strict=True)
    ]
    out: dict[str, Any] = {}
    for alias in ALIASES:
        model = load_embedder(CATALOG[alias])
        tick = time.perf_counter()
        out[f"doc_{alias}"] = model.encode_documents(texts, batch_size=64).astype(np.float32)
        out[f"query_{alias}"] = model.encode_queries([collection.queries[q] for q in qids]).astype(np.float32)
        print(f"  embedded SciFact with {alias} in {time.perf_counter() - tick:.0f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    info = {
        "doc_ids": corpus.column("id").to_pylist(),
        "query_ids": qids,
        "queries": {q: collection.queries[q] for q in qids},
        "qrels": {q: collection.qrels[q] for q in qids},
    }
    meta.write_text(json.dumps(info))
    return {**out, **info}


def build_table(ws_path: Path, rows: int, data: dict[str, Any]) -> None:
    """Write the N-row table streamed in batches (memory O(batch)), tag it, eval set, production."""
    import lance

    from workbench.contract import candidate_tag, content_hash, vector_type
    from workbench.models.catalog import CATALOG
    from workbench.production.promote import promote
    from workbench.store.evalsets import EvalSet, save_eval_set
    from workbench.store.workspace import column_metadata, open_workspace, set_tag

    refs = [CATALOG[a] for a in ALIASES]
    fields = [
        pa.field("id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("content_hash", pa.string()),
    ]
    for ref in refs:
        fields.append(pa.field(ref.column, vector_type(ref.dim), metadata=column_metadata(ref)))
        fields.append(pa.field(ref.src_column, pa.string()))
    schema = pa.schema(fields)
    doc_ids = np.asarray(data["doc_ids"], dtype=object)
    n_docs = len(doc_ids)

    def batches() -> Iterator[pa.RecordBatch]:
        rng = np.random.default_rng(0)
        for start in range(0, rows, BATCH):
            index = np.arange(start, min(start + BATCH, rows))
            doc, copy = index % n_docs, index // n_docs
            ids = [d if c == 0 else f"{d}~{c}" for d, c in zip(doc_ids[doc], copy, strict=True)]
            texts = [f"copy {c} of SciFact document {d}" for d, c in zip(doc_ids[doc], copy, strict=True)]
            hashes = [content_hash("", t) for t in texts]
            columns: list[pa.Array] = [
                pa.array(ids),
                pa.array([""] * len(ids)),
                pa.array(texts),
                pa.array(hashes),
            ]
            blended = copy > 0
            partner = rng.integers(0, n_docs, size=len(index))
            weight = rng.uniform(0.55, 0.9, size=(len(index), 1)).astype(np.float32)
            for ref, alias in zip(refs, ALIASES, strict=True):
                real = data[f"doc_{alias}"]
                vectors = real[doc].copy()
                mixed = weight[blended] * real[doc[blended]] + (1 - weight[blended]) * real[partner[blended]]
                noise = SIGMA * rng.standard_normal((int(blended.sum()), ref.dim), dtype=np.float32)
                vectors[blended] = mixed + noise
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                columns.append(pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), ref.dim))
                columns.append(pa.array(hashes))
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    ws = open_workspace(ws_path)
    reader = pa.RecordBatchReader.from_batches(schema, batches())
    lance.write_dataset(reader, str(ws_path / f"{TABLE}.lance"), schema=schema, max_rows_per_file=1_000_000)
    table = ws.table(TABLE)
    for ref in refs:
        set_tag(table, candidate_tag(ref.column), table.version)
    save_eval_set(ws, EvalSet("scifact", TABLE, data["queries"], data["qrels"]))
    promote(ws, TABLE, refs[0].column, initial=True, reason="bench")


def index_table(ws: Any, columns: list[str]) -> dict[str, Any]:
    """Build each column's ANN index, then refresh production onto the indexed version.

    (Production was promoted by :func:`build_table` before the index existed.) Returns the
    build seconds and index description per column and the refresh seconds.
    """
    from workbench.production.promote import refresh
    from workbench.store.index import build_index

    result: dict[str, Any] = {}
    table = ws.table(TABLE)
    for col in columns:
        info = build_index(table, ws.resolve_column(table, col))
        result[f"build_s[{col[:20]}]"] = info.build_s
        result[f"index[{col[:20]}]"] = info.describe()
    t0 = time.perf_counter()
    refresh(ws, TABLE, reason="serve through the index")
    result["refresh_s"] = time.perf_counter() - t0
    return result


# --- operations (each in its own process) --------------------------------------------------


def op(name: str, ws_path: Path, cache: Path) -> dict[str, Any]:
    from workbench.models.catalog import CATALOG
    from workbench.store.workspace import open_workspace

    ws = open_workspace(ws_path)
    cols = [CATALOG[a].column for a in ALIASES]
    data = seeds(cache)
    result: dict[str, Any] = {}
    tick = time.perf_counter()
    if name == "index":
        result.update(index_table(ws, cols))
    elif name == "tune":
        # Search-parameter sweep on each column's index: recall@10 of all 300 queries against the
        # streamed exact search, and single-query latency (100 queries) per setting.
        from workbench.comparison.index_eval import index_search, recall_at
        from workbench.retrieval.exact import scan_search
        from workbench.store.index import describe_indexes

        table = ws.table(TABLE)
        indexes = describe_indexes(table)
        sweep = []
        for alias, col in zip(ALIASES, cols, strict=True):
            info = indexes.get(col)
            if info is None or info.spec is None:
                continue
            vectors = data[f"query_{alias}"]
            ids = [str(i) for i in range(len(vectors))]
            truth = scan_search(table, col, vectors, ids, k=10)
            grid = [
                tuple(map(int, g.split("x"))) for g in os.environ.get("TUNE_GRID", "").split()
            ] or TUNE_GRID
            for nprobes, refine in grid:
                spec = info.spec.model_copy(
                    update={"nprobes": min(nprobes, info.spec.num_partitions), "refine_factor": refine}
                )
                found, _ = index_search(table, col, vectors, ids, k=10, spec=spec)
                batch_recall = recall_at(truth, found, 10)
                _, lat = index_search(table, col, vectors[:100], ids[:100], k=10, spec=spec)
                sweep.append(
                    {
                        "column": alias,
                        "search": spec.describe(),
                        "recall@10": round(batch_recall, 3),
                        "p50_ms": round(float(np.percentile(lat, 50)), 2),
                        "p95_ms": round(float(np.percentile(lat, 95)), 2),
                    }
                )
                print(json.dumps(sweep[-1]), file=sys.stderr, flush=True)
        result["sweep"] = sweep
    elif name == "serve":
        from workbench.comparison.index_eval import index_recall, index_search
        from workbench.production.serving import resolve_production, verify_column
        from workbench.store.index import describe_indexes

        t0 = time.perf_counter()
        handle, column = resolve_production(ws, TABLE)
        verify_column(handle, column)
        info = describe_indexes(handle).get(column.name)
        result["open_validate_s"] = time.perf_counter() - t0
        vectors = data["query_minilm-l3"]
        ids = [str(i) for i in range(len(vectors))]
        n_exact = 10 if handle.count_rows() >= 1_000_000 else 30
        index_search(  # warm-up
            handle, column.name, vectors[:5], ids[:5], k=10, spec=info.spec if info else None
        )
        _, lat = index_search(
            handle, column.name, vectors[:100], ids[:100], k=10, spec=info.spec if info else None
        )
        _, exact = index_search(
            handle, column.name, vectors[:n_exact], ids[:n_exact], k=10, spec=None, exact=True
        )
        result.update(
            index=info.describe() if info else "exact",
            p50_ms=float(np.percentile(lat, 50)),
            p95_ms=float(np.percentile(lat, 95)),
            exact_p50_ms=float(np.percentile(exact, 50)),
            exact_p95_ms=float(np.percentile(exact, 95)),
        )
        table = ws.table(TABLE)
        for alias, col in zip(ALIASES, cols, strict=True):
            if col in describe_indexes(table):
                result[f"recall@10[{alias}]"] = index_recall(table, col, data[f"query_{alias}"], 10)
    elif name == "check":
        from workbench.models.loading import load_embedder
        from workbench.production.serving import check

        model = load_embedder(CATALOG[ALIASES[0]])
        ws.db  # noqa: B018  (connect first: the import of lancedb is start-up, like the model load)
        t0 = time.perf_counter()
        report = check(ws, TABLE, embedder=model)
        result.update(check_s=time.perf_counter() - t0, ok=report.ok, problems=list(report.problems))
        t0 = time.perf_counter()
        check(ws, TABLE, embedder=model)
        result["check_again_s"] = time.perf_counter() - t0
    elif name == "status":
        from workbench.store.status import workspace_status

        workspace_status(ws)
    elif name == "promote":
        from workbench.production.promote import promote, rollback

        t0 = time.perf_counter()
        promote(ws, TABLE, cols[1], force=True, reason="bench")
        result["promote_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rollback(ws, TABLE, reason="bench")
        result["rollback_s"] = time.perf_counter() - t0
    elif name == "compare":
        from workbench.comparison.run import compare
        from workbench.models.loading import load_embedder

        models = {CATALOG[a].column: load_embedder(CATALOG[a]) for a in ALIASES}
        t0 = time.perf_counter()
        cmp = compare(
            ws, baseline=cols[0], candidate=cols[1], eval_set="scifact", embedders=models, store=False
        )
        result.update(
            compare_s=time.perf_counter() - t0, **{k: round(v, 2) for k, v in cmp.manifest.timings.items()}
        )
        result["summary"] = cmp.summary
    elif name == "numpy":
        from workbench.retrieval.exact import exact_search, read_vectors

        table = ws.table(TABLE)
        total = 0.0
        for alias, col in zip(ALIASES, cols, strict=True):
            ids, matrix = read_vectors(table, col)
            qv = data[f"query_{alias}"]
            t0 = time.perf_counter()
            exact_search(ids, matrix, qv, [str(i) for i in range(len(qv))], k=100)
            total += time.perf_counter() - t0
            del matrix
        result["numpy_search_s"] = total
    elif name == "workspace_page":
        from streamlit.testing.v1 import AppTest

        os.environ["WORKBENCH_WORKSPACE"] = str(ws_path)
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
        at.run()
        t0 = time.perf_counter()
        at.switch_page("app.py").run()
        result["page_s"] = time.perf_counter() - t0
        result["exception"] = [str(e.value) for e in at.exception][:1]
    else:
        raise SystemExit(f"unknown op {name}")
    result["wall_s"] = time.perf_counter() - tick
    result["peak_rss_mb"] = vmhwm_mb()
    return result


def run_op(name: str, ws_path: Path, cache: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--op", name, "--ws", str(ws_path), "--cache", str(cache)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["?"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_seconds(args: list[str], reps: int = 3) -> float:
    times = []
    for _ in range(reps):
        tick = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from workbench.cli import main; main()", *args],
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            check=False,
        )
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--root", type=Path, default=Path("/tmp/bench_scale"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bench_scale_cache"))
    parser.add_argument(
        "--ops",
        nargs="+",
        default=["index", "status", "check", "serve", "promote", "compare", "numpy", "workspace_page"],
    )
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="Reuse a kept table of the same size.")
    parser.add_argument("--op")
    parser.add_argument("--ws", type=Path)
    args = parser.parse_args()
    if args.op:
        print(json.dumps(op(args.op, args.ws, args.cache), default=str))
        return
    if not (SCIFACT / "corpus.jsonl").is_file():
        raise SystemExit(f"{SCIFACT} is absent: this benchmark needs the SciFact collection")
    data = seeds(args.cache)
    print(f"seeds: {len(data['doc_ids'])} documents, {len(data['query_ids'])} queries", flush=True)
    results: dict[int, dict[str, Any]] = {}
    for rows in args.rows:
        ws_path = args.root / f"ws{rows}"
        tick = time.perf_counter()
        if not (args.reuse and (ws_path / f"{TABLE}.lance").is_dir()):
            shutil.rmtree(ws_path, ignore_errors=True)
            build_table(ws_path, rows, data)
        print(f"\n== {rows:,} rows (table ready in {time.perf_counter() - tick:.0f} s)", flush=True)
        found: dict[str, Any] = {}
        for name in args.ops:
            found[name] = run_op(name, ws_path, args.cache)
            print(f"  {name}: {json.dumps(found[name], default=str)}", flush=True)
        found["help_s"] = cli_seconds(["--help"])
        found["status_cli_s"] = cli_seconds(["status", "-w", str(ws_path)])
        print(f"  cli: --help {found['help_s']:.2f} s, status {found['status_cli_s']:.2f} s", flush=True)
        results[rows] = found
        if not args.keep:
            shutil.rmtree(ws_path, ignore_errors=True)
    out = args.root / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nresults in {out}")


if __name__ == "__main__":
    main()
