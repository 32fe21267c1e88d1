"""Ingest at scale: peak memory and time of ``workbench ingest`` for corpora of N documents.

The corpus is real SciFact text cycled to N documents (document ``d`` copy ``c`` gets id
``d~c`` and its text prefixed with the copy number, so every row and hash is distinct), written
once as JSONL under ``--root``. Each ingest runs ``workbench ingest`` in a fresh process into an
empty workspace; peak RSS is the process's ``ru_maxrss``. Memory flat in corpus size is the goal:
the ratio of peak RSS from the smallest to the largest N should stay near 1.

Usage::

    python bench/bench_ingest.py --rows 100000 1000000 --root /tmp/bench_ingest
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_SHARED = [Path(p) for p in (os.environ.get("WORKBENCH_SHARED_DATA"), REPO.parent / "shared" / "data") if p]
SCIFACT = next((p for p in _SHARED if (p / "scifact").is_dir()), Path("/work/shared/data")) / "scifact"
CHARS = 600  # of each SciFact text: keeps a 1M-row file near 0.7 GB


def write_corpus(path: Path, rows: int) -> None:
    docs = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open(encoding="utf-8")]
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            doc = docs[i % len(docs)]
            copy = i // len(docs)
            record = {
                "_id": f"{doc['_id']}~{copy}",
                "title": doc.get("title", ""),
                "text": f"[{copy}] {doc['text'][:CHARS]}",
            }
            out.write(json.dumps(record) + "\n")


def ingest(corpus: Path, ws: Path) -> dict[str, float]:
    shutil.rmtree(ws, ignore_errors=True)
    code = (
        "import resource, sys; from workbench.cli import main\n"
        f"sys.argv = ['workbench', 'ingest', {str(corpus)!r}, '-w', {str(ws)!r}, '--table', 'corpus']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
    )
    tick = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    seconds = time.perf_counter() - tick
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak_kb / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--root", type=Path, default=Path("/tmp/bench_ingest"))
    parser.add_argument("--keep", action="store_true", help="Keep the corpus files and workspaces.")
    args = parser.parse_args()
    if not (SCIFACT / "corpus.jsonl").is_file():
        raise SystemExit(f"{SCIFACT} is absent: this benchmark needs the SciFact collection")
    args.root.mkdir(parents=True, exist_ok=True)
    results = {}
    for rows in args.rows:
        corpus = args.root / f"corpus{rows}.jsonl"
        if not corpus.is_file():
            write_corpus(corpus, rows)
        results[rows] = {
            "file_mb": round(corpus.stat().st_size / 2**20, 1),
            **ingest(corpus, args.root / f"ws{rows}"),
        }
        print(f"{rows:>9,} rows: {json.dumps(results[rows])}", flush=True)
        if not args.keep:
            shutil.rmtree(args.root / f"ws{rows}", ignore_errors=True)
    large = max(results)
    for small in sorted(results)[:-1]:
        ratio = results[large]["peak_rss_mb"] / results[small]["peak_rss_mb"]
        print(f"peak RSS {large:,} / {small:,} rows: {ratio:.2f} (goal <= 1.2 from 100k to 1M)")


if __name__ == "__main__":
    main()
