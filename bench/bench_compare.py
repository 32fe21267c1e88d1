"""Benchmark of `workbench compare` against a blocked numpy exact search, and of our metrics vs pytrec_eval.

Two measurements, each a ratio taken in the same run:

1. Comparison, SciFact (5,183 documents, 300 test queries) x 2 real models. The queries are
   encoded once per model (that time is reported on its own); ``compare`` then runs end to
   end with embedders that hand back those vectors, so it is timed without model encode time:
   validation, batched LanceDB search of both columns, pytrec_eval metrics, paired statistics,
   rank shifts, score distributions, storing. The reference is a blocked numpy exact search
   (matmul + argpartition) of the same query vectors over the same document vectors, read
   from the same table in the same run. Goal: LanceDB search / numpy search <= 2. The end to
   end ratio is printed as well (it also pays for statistics numpy does not compute). The
   timed cases alternate round after round and medians are reported, so a change in machine
   load hits them alike.
2. Metrics, 10,000 synthetic queries x 100 ranked documents, 12 metrics (6 families at k=10
   and k=100): ``workbench.metrics.labelled.per_query_metrics`` vs one direct pytrec_eval call.

The SciFact workspace (ingest + two embedding runs: ~15 minutes on 2 busy cores) is cached under
``$WORKBENCH_CACHE/bench/compare-scifact``; the benchmark skips cleanly when SciFact is absent.

Run:  HF_HUB_OFFLINE=1 /work/venv/bin/python bench/bench_compare.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SCIFACT = Path(os.environ.get("WORKBENCH_SHARED_DATA", "/work/shared/data")) / "scifact"
TABLE = "scifact"
EVAL_SET = "scifact-test"
MODELS = ("minilm-l3", "minilm-l6")
GOAL_SEARCH_RATIO = 2.0
METRICS = [
    f"{family}@{k}" for k in (10, 100) for family in ("ndcg", "recall", "mrr", "map", "precision", "hit_rate")
]


class Precomputed:
    """An embedder with the column's pin that returns query vectors encoded beforehand."""

    def __init__(self, inner: object, vectors: dict[str, np.ndarray]) -> None:
        self.ref = inner.ref  # type: ignore[attr-defined]
        self.inner = inner
        self.vectors = vectors

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        # Only the canary check encodes documents (once per embedder): the real model does it.
        return self.inner.encode_documents(texts, batch_size=batch_size)  # type: ignore[attr-defined, no-any-return]

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


# --------------------------------------------------------------------------- 1. comparison


def scifact_workspace():  # -> Workspace (imported lazily)
    from workbench.cache import cache_dir
    from workbench.embedding.ingest import ingest
    from workbench.embedding.run import embed
    from workbench.store.evalsets import EvalSet, list_eval_sets, load_eval_set, save_eval_set
    from workbench.store.workspace import open_workspace

    ws = open_workspace(cache_dir() / "bench" / "compare-scifact")
    if not ws.has_table(TABLE):
        print(f"building the SciFact workspace in {ws.uri} (cached for later runs) ...", flush=True)
        ingest(ws, SCIFACT, table=TABLE, eval_set=TABLE)
    for alias in MODELS:
        result = embed(ws, TABLE, ws.model(alias))
        if result.created:
            print(f"  {result.message}", flush=True)
    if EVAL_SET not in {e["name"] for e in list_eval_sets(ws)}:
        full = load_eval_set(ws, TABLE)  # all 1,109 SciFact queries; the test split judges 300
        judged = {q: full.queries[q] for q in full.judged_queries}
        save_eval_set(ws, EvalSet(EVAL_SET, TABLE, judged, {q: full.qrels[q] for q in judged}))
    return ws


def bench_comparison(repeat: int) -> dict[str, float]:
    from workbench.comparison.run import compare
    from workbench.retrieval.encode import embedder_for
    from workbench.retrieval.exact import exact_search, read_vectors, scan_search, search_column
    from workbench.store.evalsets import load_eval_set

    ws = scifact_workspace()
    table = ws.table(TABLE)
    queries = load_eval_set(ws, EVAL_SET).queries
    columns = [ws.resolve_column(table, alias) for alias in MODELS]
    ids, texts = list(queries), list(queries.values())
    loaded = {c.name: embedder_for(c) for c in columns}
    encode_s, vectors = 0.0, {}
    for column in columns:
        start = time.perf_counter()
        vectors[column.name] = loaded[column.name].encode_queries(texts, batch_size=64)
        encode_s += time.perf_counter() - start
    fakes = {n: Precomputed(loaded[n], dict(zip(texts, v, strict=True))) for n, v in vectors.items()}
    in_memory = {c.name: read_vectors(table, c.name) for c in columns}
    cases: dict[str, Callable[[], object]] = {
        "compare": lambda: compare(
            ws, baseline=MODELS[0], candidate=MODELS[1], eval_set=EVAL_SET, embedders=fakes
        ),
        "lance": lambda: [search_column(table, c, vectors[c], ids, k=100) for c in vectors],
        "scan": lambda: [scan_search(table, c, vectors[c], ids, k=100) for c in vectors],
        "numpy": lambda: [exact_search(*in_memory[c], vectors[c], ids, k=100) for c in vectors],
        "numpy_load": lambda: [
            exact_search(*read_vectors(table, c), vectors[c], ids, k=100) for c in vectors
        ],
    }
    times, results = interleaved(cases, repeat)
    cmp = results["compare"]
    return {
        "docs": table.count_rows(),
        "queries": len(queries),
        "judged": cmp.manifest.n_judged,  # type: ignore[attr-defined]
        "encode_s": encode_s,
        "compare_s": times["compare"],
        "compare_search_s": cmp.manifest.timings["search_s"],  # type: ignore[attr-defined]
        "analysis_s": cmp.manifest.timings["metrics_s"],  # type: ignore[attr-defined]
        "lance_s": times["lance"],
        "scan_s": times["scan"],
        "numpy_s": times["numpy"],
        "numpy_load_s": times["numpy_load"],
        "summary": cmp.summary,  # type: ignore[attr-defined]
    }


def interleaved(
    cases: dict[str, Callable[[], object]], repeat: int
) -> tuple[dict[str, float], dict[str, object]]:
    """Median seconds per case, the cases alternating round after round (after one warm-up round),
    so that a change in machine load hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    results: dict[str, object] = {}
    for round_ in range(repeat + 1):
        for name, fn in cases.items():
            start = time.perf_counter()
            results[name] = fn()
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}, results


# --------------------------------------------------------------------------- 2. metrics


def synthetic(n_queries: int, depth: int, seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    run, qrels = {}, {}
    for q in range(n_queries):
        qid = f"q{q}"
        docs = rng.choice(5000, size=depth, replace=False)
        scores = np.sort(rng.random(depth))[::-1]
        run[qid] = {f"d{d}": float(s) for d, s in zip(docs, scores, strict=True)}
        relevant = rng.choice(5000, size=rng.integers(1, 6), replace=False)
        qrels[qid] = {f"d{d}": int(rng.integers(1, 4)) for d in relevant}
        qrels[qid][f"d{docs[rng.integers(0, depth)]}"] = int(rng.integers(1, 4))  # some hits
    return run, qrels


def bench_metrics(repeat: int) -> dict[str, float]:
    import pytrec_eval

    from workbench.metrics.labelled import per_query_metrics

    run, qrels = synthetic(10_000, 100)
    measures = {
        "ndcg_cut.10,100",
        "recall.10,100",
        "P.10,100",
        "map_cut.10,100",
        "success.10,100",
        "recip_rank",
    }

    def direct() -> object:
        return pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)

    times, results = interleaved(
        {"ours": lambda: per_query_metrics(run, qrels, METRICS), "pytrec": direct}, repeat
    )
    frame, evaluated = results["ours"], results["pytrec"]
    ndcg = np.array([evaluated[q]["ndcg_cut_10"] for q in frame.index])  # type: ignore[index, union-attr]
    assert np.abs(frame["ndcg@10"].to_numpy() - ndcg).max() < 1e-9  # same numbers  # type: ignore[index]
    return {"queries": 10_000, "ours_s": times["ours"], "pytrec_s": times["pytrec"]}


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (median)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    if not (SCIFACT / "corpus.jsonl").is_file():
        print(f"SKIP comparison benchmark: {SCIFACT} is absent")
    else:
        r = bench_comparison(args.repeat)
        ratio = r["scan_s"] / r["numpy_s"]
        print(
            f"\n1. compare on SciFact: {r['docs']} docs, {r['queries']} queries ({r['judged']} judged), 2 models"
        )
        print(f"   model encode time (2 models, reported separately): {r['encode_s']:8.3f} s")
        print(f"   compare end to end, without encode (incl. storing): {r['compare_s']:8.3f} s")
        print(f"     of which batched LanceDB search (2 columns):       {r['compare_search_s']:8.3f} s")
        print(f"     of which metrics, statistics, shifts, documents:   {r['analysis_s']:8.3f} s")
        print(f"   streamed exact scan, as compare uses (2 columns):    {r['scan_s']:8.3f} s")
        print(f"   batched LanceDB search alone (2 columns, top 100):   {r['lance_s']:8.3f} s")
        print(f"   blocked numpy exact search, vectors in memory:       {r['numpy_s']:8.3f} s")
        print(f"   blocked numpy exact search, incl. reading vectors:   {r['numpy_load_s']:8.3f} s")
        verdict = "OK" if ratio <= GOAL_SEARCH_RATIO else "ABOVE GOAL"
        print(
            f"   ratio comparison search (streamed scan) / numpy: {ratio:6.2f}  (goal <= {GOAL_SEARCH_RATIO}: {verdict})"
        )
        print(f"   ratio LanceDB batched search / numpy:      {r['lance_s'] / r['numpy_s']:6.2f}")
        print(f"   ratio streamed scan / numpy incl. read:    {r['scan_s'] / r['numpy_load_s']:6.2f}")
        print(f"   ratio compare end to end / numpy search:   {r['compare_s'] / r['numpy_s']:6.2f}")
        print(f"   {r['summary']}")
    m = bench_metrics(args.repeat)
    print(f"\n2. metrics for {m['queries']} synthetic queries x 100 docs, {len(METRICS)} metrics")
    print(f"   metrics.labelled.per_query_metrics:   {m['ours_s']:8.3f} s")
    print(f"   pytrec_eval directly (one call):      {m['pytrec_s']:8.3f} s")
    print(f"   ratio ours / pytrec_eval:             {m['ours_s'] / m['pytrec_s']:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
