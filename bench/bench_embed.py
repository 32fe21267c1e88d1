"""Benchmark of `workbench embed` against a bare ``SentenceTransformer.encode``.

One run, one corpus, one model, and three measurements:

1. Throughput: bare ``encode`` (rows/s) vs ``workbench.embed.embed`` end to end (ingested
   table -> column committed and tagged), same texts (``document_text(title, text)``), same
   model object, same encode batch size. Bare and workbench runs alternate (bare, wb, bare,
   wb, ...) after one untimed warm-up pass; medians are reported. Goal: wb/bare >= 0.9.
2. Bytes: on-disk size of the table's ``.lance`` folder before and after the embed, divided
   by N*d*4. Goal: <= 1.1.
3. Peak RSS: the embed run in a fresh subprocess at 1x and 10x corpus size (same documents
   repeated with new ids), plus the RSS of a process that only loads the model.
   Goal: flat (10x within ~10% of 1x).

Run:  HF_HUB_OFFLINE=1 /work/venv/bin/python bench/bench_embed.py [--quick]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SCIFACT = Path("/work/shared/data/scifact/corpus.jsonl")
DEMO = REPO / "data" / "demo" / "corpus.jsonl"
TABLE = "corpus"

GOAL_RATIO = 0.9
GOAL_BYTES = 1.1
GOAL_RSS = 1.10  # "flat": peak RSS at 10x within 10 % of 1x


# --------------------------------------------------------------------------- helpers


def maxrss_mb() -> float:
    """Peak RSS of this process so far, in MiB.

    Read from ``VmHWM`` in /proc/self/status: on Linux ``ru_maxrss`` survives fork + execve,
    so a child started from this (model-holding, ~1 GB) process would report the parent's
    peak, not its own. ``VmHWM`` belongs to the address space, which execve replaces.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def folder_parts(path: Path) -> dict[str, int]:
    """Bytes per top-level subfolder of a .lance folder (data, _versions, _transactions, ...)."""
    parts: dict[str, int] = {}
    for p in path.rglob("*"):
        if p.is_file():
            key = p.relative_to(path).parts[0]
            parts[key] = parts.get(key, 0) + p.stat().st_size
    return parts


def table_dir(ws_path: Path) -> Path:
    return ws_path / f"{TABLE}.lance"


def load_corpus(rows: int):
    """The first ``rows`` SciFact documents (or the demo corpus if SciFact is absent)."""
    from workbench.corpus.readers import read_corpus

    if SCIFACT.is_file():
        source = SCIFACT
    else:
        print(f"note: {SCIFACT} not found; falling back to the demo corpus {DEMO}")
        source = DEMO
    corpus = read_corpus(source)
    if rows > corpus.num_rows:
        print(f"note: {source} has only {corpus.num_rows} documents; using all of them")
        rows = corpus.num_rows
    return corpus.slice(0, rows), source


def repeat_corpus(corpus, times: int):
    """The same documents ``times`` times, with new ids (``<id>~r<k>``) from the 2nd copy on."""
    import pyarrow as pa

    parts = [corpus]
    for k in range(1, times):
        ids = pa.array([f"{i}~r{k}" for i in corpus.column("id").to_pylist()], pa.string())
        parts.append(corpus.set_column(0, corpus.schema.field("id"), ids))
    return pa.concat_tables(parts).combine_chunks()


def make_workspace(path: Path, corpus) -> None:
    """An ingested workspace holding ``corpus`` as table ``corpus`` (no vector column)."""
    from workbench.corpus.readers import Collection
    from workbench.embedding.ingest import ingest_collection
    from workbench.store.workspace import open_workspace

    ingest_collection(open_workspace(path), Collection(corpus=corpus, name=TABLE), table=TABLE)


def corpus_texts(corpus, ref) -> list[str]:
    """Exactly the strings `embed` hands to the model (document_text + document_prefix)."""
    from workbench.contract import document_text

    titles = corpus.column("title").to_pylist()
    texts = corpus.column("text").to_pylist()
    return [ref.document_prefix + document_text(t or "", x) for t, x in zip(titles, texts, strict=True)]


def context_ab(template: Path, embedder, texts: list[str], pairs: int, chunk: int, encode_batch: int):
    """Many short interleaved pairs: bare ``encode_documents`` of ``chunk`` strings vs the same
    call made the way ``embed`` makes it (texts from a lance scan that stays open, suspended,
    while the model runs). Short pairs see the same machine speed, so their ratio isolates
    any slowdown from embed's context. Returns the per-pair ratios bare/in-context (time).
    """
    from workbench.contract import document_text
    from workbench.store.workspace import open_workspace

    dataset = open_workspace(template).table(TABLE).to_lance()
    head = texts[:chunk]

    def bare() -> float:
        start = time.perf_counter()
        embedder.encode_documents(head, batch_size=encode_batch)
        return time.perf_counter() - start

    def in_context() -> float:
        scan = dataset.to_batches(
            columns=["id", "title", "text", "content_hash"], batch_size=chunk, scan_in_order=True
        )
        batch = next(scan)
        docs = [
            document_text(t or "", x)
            for t, x in zip(batch.column("title").to_pylist(), batch.column("text").to_pylist(), strict=True)
        ]
        start = time.perf_counter()
        embedder.encode_documents(docs, batch_size=encode_batch)
        seconds = time.perf_counter() - start
        for _ in scan:
            pass
        return seconds

    ratios = []
    for r in range(pairs):
        if r % 2 == 0:
            a, c = bare(), in_context()
        else:
            c, a = in_context(), bare()
        ratios.append(a / c)
    return ratios


def padded_tokens(model, texts: list[str], encode_batch: int, *, chunk: int | None) -> int:
    """Tokens the model processes, padding included, the way ``SentenceTransformer.encode``
    batches: each call sorts its texts by length (longest first) and pads each batch of
    ``encode_batch`` to its longest member. ``chunk`` = rows per encode call (embed makes
    one call per checkpoint batch; bare encode one call for everything). A deterministic,
    noise-free measure of the compute the two sides need.
    """
    limit = model.max_seq_length
    lengths = [len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=limit)["input_ids"]]
    chars = [len(t) for t in texts]
    total = 0
    step = chunk or len(texts)
    for start in range(0, len(texts), step):
        idx = sorted(range(start, min(start + step, len(texts))), key=lambda i: -chars[i])
        for b in range(0, len(idx), encode_batch):
            batch = idx[b : b + encode_batch]
            total += len(batch) * max(lengths[i] for i in batch)
    return total


def bare_encode(embedder, texts: list[str], encode_batch: int) -> None:
    """The bare ``SentenceTransformer.encode`` of the same texts with the pin's options."""
    ref = embedder.ref
    embedder.model.encode(
        texts,
        batch_size=encode_batch,
        convert_to_numpy=True,
        normalize_embeddings=ref.normalize,
        show_progress_bar=False,
        truncate_dim=ref.truncate_dim,
    )


class TimedEmbedder:
    """Wraps an embedder and adds up the time spent in ``encode_documents``."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.ref = inner.ref
        self.seconds = 0.0

    def encode_documents(self, texts, *, batch_size: int = 64):
        start = time.perf_counter()
        try:
            return self.inner.encode_documents(texts, batch_size=batch_size)
        finally:
            self.seconds += time.perf_counter() - start

    def encode_queries(self, texts, *, batch_size: int = 64):
        return self.inner.encode_queries(texts, batch_size=batch_size)


def embed_corpus(ws, ref, embedder, args, progress):
    """``workbench.embed.embed`` of table ``corpus`` with the benchmark's batch sizes."""
    from workbench.embedding.run import embed

    return embed(
        ws,
        TABLE,
        ref,
        embedder=embedder,
        batch_size=args.batch_size,
        encode_batch=args.encode_batch,
        on_progress=progress,
    )


def run_workbench(template: Path, work: Path, ref, embedder, args, *, profile: bool = False) -> dict:
    """One `embed` on a fresh copy of the template workspace; timings and byte counts."""
    from workbench.store.workspace import open_workspace

    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(template, work)
    ws = open_workspace(work)
    before = folder_parts(table_dir(work))
    timed = TimedEmbedder(embedder)
    marks: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        marks.setdefault("first_batch", now)
        if done == total:
            marks["loop_end"] = now
            marks["checkpoint_bytes"] = folder_bytes(ws.state_dir)

    profiler = cProfile.Profile() if profile else None
    cpu0 = time.process_time()
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    result = embed_corpus(ws, ref, timed, args, progress)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    after = folder_parts(table_dir(work))
    out = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": result.rows,
        "encode_seconds": timed.seconds,
        "commit_seconds": start + seconds - marks["loop_end"],
        "bytes_added": sum(after.values()) - sum(before.values()),
        "bytes_added_parts": {k: after.get(k, 0) - before.get(k, 0) for k in after},
        "checkpoint_bytes": marks["checkpoint_bytes"],
        "version": result.version,
    }
    if profiler:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


# --------------------------------------------------------------------------- RSS child


def rss_child(args) -> None:
    """Run in a fresh process: load the model (like the CLI does) and embed; print JSON."""
    logging.disable(logging.WARNING)
    from workbench.models.loading import load_embedder
    from workbench.store.workspace import open_workspace

    ws = open_workspace(args.child_ws)
    ref = ws.model(args.model)
    out = {"after_imports_mb": maxrss_mb()}
    embedder = load_embedder(ref)
    out["after_load_mb"] = maxrss_mb()
    if args.child_load_only:
        print(json.dumps(out))
        return
    if args.child_bare:  # bare encode of the same texts, for comparison with the embed
        corpus = ws.table(TABLE).to_lance().to_table(columns=["title", "text"])
        texts = corpus_texts(corpus, ref)
        del corpus
        start = time.perf_counter()
        bare_encode(embedder, texts, args.encode_batch)
        out.update(peak_mb=maxrss_mb(), rows=len(texts), seconds=time.perf_counter() - start)
        print(json.dumps(out))
        return
    marks: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        if done == total:
            marks["before_merge_mb"] = maxrss_mb()

    start = time.perf_counter()
    result = embed_corpus(ws, ref, embedder, args, progress)
    out.update(
        before_merge_mb=marks["before_merge_mb"],
        peak_mb=maxrss_mb(),
        rows=result.rows,
        seconds=time.perf_counter() - start,
    )
    print(json.dumps(out))


def run_child(ws_path: Path, args, *, load_only: bool = False, bare: bool = False) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-ws",
        str(ws_path),
        "--model",
        args.model,
        "--batch-size",
        str(args.batch_size),
        "--encode-batch",
        str(args.encode_batch),
    ]
    if load_only:
        cmd.append("--child-load-only")
    if bare:
        cmd.append("--child-bare")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show up when piped to a file
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="minilm-l3", help="model alias (default minilm-l3)")
    parser.add_argument("--rows", type=int, default=1000, help="corpus rows (default 1000)")
    parser.add_argument("--rounds", type=int, default=8, help="bare/wb pairs (default 8)")
    parser.add_argument("--scale", type=int, default=10, help="RSS: large corpus = rows x scale")
    parser.add_argument(
        "--encode-batch", type=int, default=32, help="rows per forward pass (embed's default 32)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=256, help="rows per checkpoint (embed's default 256)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 rows, 2 rounds")
    parser.add_argument(
        "--ab-pairs", type=int, default=30, help="fine-grained bare vs in-context encode pairs (0: skip)"
    )
    parser.add_argument("--skip-rss", action="store_true", help="skip the subprocess RSS runs")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra workbench run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspaces")
    parser.add_argument("--child-ws", help=argparse.SUPPRESS)
    parser.add_argument("--child-load-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_ws:
        rss_child(args)
        return
    if args.quick:
        args.rows, args.rounds, args.ab_pairs = (
            min(args.rows, 200),
            min(args.rounds, 2),
            min(args.ab_pairs, 6),
        )

    logging.disable(logging.WARNING)
    import torch

    from workbench.models.loading import load_embedder
    from workbench.store.config import WorkspaceConfig

    ref = WorkspaceConfig().model(args.model)
    corpus, source = load_corpus(args.rows)
    n, dim = corpus.num_rows, ref.dim
    root = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    print(
        f"corpus: first {n} documents of {source}; model {args.model} ({ref.name}, d={dim}, "
        f"max_seq_length={ref.max_seq_length}); encode batch {args.encode_batch}, checkpoint "
        f"batch {args.batch_size}; torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}"
    )
    print(f"scratch: {root}")
    try:
        template = root / "template"
        make_workspace(template, corpus)

        t0 = time.perf_counter()
        embedder = load_embedder(ref)
        load_s = time.perf_counter() - t0
        texts = corpus_texts(corpus, ref)
        model = embedder.model

        def bare() -> tuple[float, float]:
            cpu0 = time.process_time()
            start = time.perf_counter()
            bare_encode(embedder, texts, args.encode_batch)
            return time.perf_counter() - start, time.process_time() - cpu0

        print(f"\nmodel load + fingerprint check: {load_s:.1f}s (not part of either timing)")
        print("warm-up: one untimed bare pass ...", flush=True)
        warm = bare()[0]
        print(f"  warm-up pass {n / warm:.1f} rows/s")

        bare_s: list[float] = []
        bare_cpu: list[float] = []
        wb_runs: list[dict] = []
        for r in range(args.rounds):
            # ABBA order (bare first in odd rounds, workbench first in even ones), so a slow
            # drift of the machine's speed does not favour one side.
            for side in ("bare", "wb") if r % 2 == 0 else ("wb", "bare"):
                if side == "bare":
                    wall, cpu = bare()
                    bare_s.append(wall)
                    bare_cpu.append(cpu)
                else:
                    wb_runs.append(run_workbench(template, root / "wb", ref, embedder, args))
            w = wb_runs[-1]
            print(
                f"  round {r + 1} ({'bare first' if r % 2 == 0 else 'wb first'}): bare "
                f"{n / bare_s[-1]:7.1f} rows/s | workbench {n / w['seconds']:7.1f} rows/s "
                f"(encode {w['encode_seconds']:.2f}s of {w['seconds']:.2f}s, commit {w['commit_seconds']:.2f}s)",
                flush=True,
            )
        ab = None
        if args.ab_pairs:
            print(
                f"fine-grained A/B: {args.ab_pairs} interleaved pairs of {min(64, n)}-row encodes ...",
                flush=True,
            )
            ab = context_ab(template, embedder, texts, args.ab_pairs, min(64, n), args.encode_batch)
        work_bare = padded_tokens(model, texts, args.encode_batch, chunk=None)
        work_wb = padded_tokens(model, texts, args.encode_batch, chunk=args.batch_size)

        bare_med = statistics.median(bare_s)
        wb_med = statistics.median(w["seconds"] for w in wb_runs)
        enc_med = statistics.median(w["encode_seconds"] for w in wb_runs)
        commit_med = statistics.median(w["commit_seconds"] for w in wb_runs)
        ratio = bare_med / wb_med
        pair_ratios = [b / w["seconds"] for b, w in zip(bare_s, wb_runs, strict=True)]
        cpu_ratio = statistics.median(bare_cpu) / statistics.median(w["cpu_seconds"] for w in wb_runs)
        in_run = statistics.median(w["encode_seconds"] / w["seconds"] for w in wb_runs)
        bytes_added = wb_runs[0]["bytes_added"]
        vec_bytes = n * dim * 4
        bytes_ratio = bytes_added / vec_bytes

        profile_text = None
        if args.profile:
            profile_text = run_workbench(template, root / "wb", ref, embedder, args, profile=True)["profile"]

        rss = None
        if not args.skip_rss:
            print(f"\nRSS: fresh subprocesses at {n} and {n * args.scale} rows ...", flush=True)
            big = repeat_corpus(corpus, args.scale)
            ws_small, ws_big = root / "rss1", root / "rss10"
            make_workspace(ws_small, corpus)
            make_workspace(ws_big, big)
            load_only = run_child(ws_small, args, load_only=True)
            bare_1x = run_child(ws_small, args, bare=True)
            small = run_child(ws_small, args)
            large = run_child(ws_big, args)
            rss = (load_only, bare_1x, small, large)
            del big
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print("\n" + "=" * 96)
    print(
        f"RESULTS  model={args.model}  rows={n}  d={dim}  rounds={args.rounds}  "
        f"encode_batch={args.encode_batch}  checkpoint_batch={args.batch_size}"
    )
    print("=" * 96)
    print(f"{'metric':<44}{'value':>22}   {'goal':<12}{'':>6}")
    print("-" * 96)
    print(f"{'bare encode, median':<44}{n / bare_med:>16.1f} rows/s")
    print(f"{'workbench embed end to end, median':<44}{n / wb_med:>16.1f} rows/s")
    print(f"{'  of which model.encode inside embed':<44}{enc_med:>20.2f} s   ({enc_med / wb_med:.0%} of wb)")
    print(f"{'  of which merge + tag + cleanup':<44}{commit_med:>20.2f} s")
    print(f"{'  everything else (scan, arrow, ckpts)':<44}{wb_med - enc_med - commit_med:>20.2f} s")
    print(
        f"{'ratio workbench / bare (medians)':<44}{ratio:>22.3f}   >= {GOAL_RATIO:<9}{verdict(ratio >= GOAL_RATIO):>6}"
    )
    print(
        f"{'  median of per-pair ratios':<44}{statistics.median(pair_ratios):>22.3f}   "
        f"(pairs: {' '.join(f'{x:.2f}' for x in pair_ratios)})"
    )
    print(f"{'  same ratio on process CPU time':<44}{cpu_ratio:>22.3f}")
    print(
        f"{'  padded-token work, bare / wb':<44}{work_bare / work_wb:>22.3f}   "
        f"({work_bare:,} vs {work_wb:,} tokens: cost of encoding per checkpoint batch)"
    )
    if ab:
        q = statistics.quantiles(ab, n=4) if len(ab) > 1 else [ab[0]] * 3
        print(
            f"{'  short interleaved pairs, bare/in-context':<44}{statistics.geometric_mean(ab):>22.3f}   "
            f"(geometric mean of {len(ab)}; median {statistics.median(ab):.3f}, IQR {q[0]:.2f}-{q[2]:.2f})"
        )
    print(
        f"{'  encode share of wb wall time, in-run':<44}{in_run:>22.3f}   "
        f"(noise-free bound on wb's own overhead)"
    )
    print(
        f"{'  noise-free estimate (work x encode share)':<44}{work_bare / work_wb * in_run:>22.3f}   "
        f">= {GOAL_RATIO:<9}{verdict(work_bare / work_wb * in_run >= GOAL_RATIO):>6}"
    )
    print(f"{'bytes added to the table folder':<44}{bytes_added:>22,}")
    for part, size in sorted(wb_runs[0]["bytes_added_parts"].items()):
        print(f"{'  in ' + part + '/':<44}{size:>22,}")
    print(f"{'N*d*4':<44}{vec_bytes:>22,}")
    print(
        f"{'  + src__ column, uncompressed N*(64+4)':<44}{n * 68:>22,}   "
        f"(sha256 hex + offset per row; lance compresses it; {(vec_bytes + n * 68) / vec_bytes:.3f} x N*d*4)"
    )
    print(
        f"{'bytes added / (N*d*4)':<44}{bytes_ratio:>22.3f}   <= {GOAL_BYTES:<9}{verdict(bytes_ratio <= GOAL_BYTES):>6}"
    )
    print(
        f"{'  (transient checkpoint files, not kept)':<44}{wb_runs[0]['checkpoint_bytes']:>22,}"
        f"   ({wb_runs[0]['checkpoint_bytes'] / vec_bytes:.2f} x N*d*4)"
    )
    if rss is not None:
        load_only, bare_1x, small, large = rss
        flat = large["peak_mb"] / small["peak_mb"]
        print(f"{'peak RSS, imports only (model not loaded)':<44}{load_only['after_imports_mb']:>19.0f} MB")
        print(f"{'peak RSS, imports + model loaded':<44}{load_only['after_load_mb']:>19.0f} MB")
        print(
            f"{'peak RSS, bare encode 1x (' + str(bare_1x['rows']) + ' rows)':<44}{bare_1x['peak_mb']:>19.0f} MB   "
            f"(+{bare_1x['peak_mb'] - bare_1x['after_load_mb']:.0f} MB over model loaded: the model's own inference)"
        )
        for label, res in (
            (f"1x ({small['rows']} rows)", small),
            (f"{args.scale}x ({large['rows']} rows)", large),
        ):
            print(
                f"{'peak RSS embed ' + label:<44}{res['peak_mb']:>19.0f} MB   "
                f"(+{res['peak_mb'] - res['after_load_mb']:.0f} MB over model loaded; "
                f"before merge {res['before_merge_mb']:.0f} MB; {res['rows'] / res['seconds']:.0f} rows/s)"
            )
        print(
            f"{'peak RSS ratio 10x / 1x':<44}{flat:>22.3f}   <= {GOAL_RSS:<9}{verdict(flat <= GOAL_RSS):>6}"
        )
    print("-" * 96)
    if profile_text:
        print("\ncProfile of one extra workbench run (top 25 by cumulative time):")
        print(profile_text)


if __name__ == "__main__":
    main()
