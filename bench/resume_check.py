"""kill -9 resume check for `workbench embed`.

1. Builds a workspace with a corpus (default: the first 2,000 SciFact documents, text cut to
   --max-chars so the check stays cheap; the demo corpus if SciFact is absent).
2. Reference: an uninterrupted ``workbench embed -w WS --model M --batch-size B`` in a copy.
3. N trials (default 10): a fresh copy; the CLI embed started as a subprocess and SIGKILLed at
   ``random.uniform(0, expected duration)`` (seeded; the expected duration is the reference
   run's wall time, process start-up included); then rerun until it completes; then checks:
   - the column (and its src__ column) exists; row count == corpus; no duplicate ids; the id
     set is the corpus; every row has a vector (no nulls, no NaN);
   - vectors equal the reference column exactly (np.array_equal after aligning by id; if not,
     allclose(atol=1e-6) is tried and reported);
   - src__ values equal content_hash;
   - across ``table.list_versions()`` exactly one version adds the column, and the column is
     whole (N non-null vectors) in that version;
   - the tag candidate-<column> points at that version;
   and warns (not a failure of the criteria above) if a checkpoint folder is left behind.
One line per trial, then "N passed, M failed". The machine's speed varies a lot: a run that
completes before its kill time is redone (up to --redraws times) with kill times drawn from
that run's duration; if it still completes first it is reported as "finished before the
kill" (and still checked). --expected overrides the duration kill times are drawn from.

Run:  HF_HUB_OFFLINE=1 /work/venv/bin/python bench/resume_check.py [--trials 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CLI = Path(sys.executable).parent / "workbench"
TABLE = "corpus"


def build_corpus(rows: int, max_chars: int):
    import pyarrow as pa
    from bench_embed import load_corpus  # the sibling script: the same corpus choice and fallback

    from workbench.contract import content_hash, corpus_schema

    corpus, source = load_corpus(rows)
    if max_chars > 0:
        titles = corpus.column("title").to_pylist()
        texts = [t[:max_chars] for t in corpus.column("text").to_pylist()]
        hashes = [content_hash(a, b) for a, b in zip(titles, texts, strict=True)]
        corpus = pa.table([corpus.column("id"), titles, texts, hashes], schema=corpus_schema())
    return corpus, source


def cli_embed(ws: Path, args) -> list[str]:
    return [
        str(CLI),
        "embed",
        "-w",
        str(ws),
        "--model",
        args.model,
        "--batch-size",
        str(args.batch_size),
        "--json",
    ]


def run_to_completion(ws: Path, args) -> tuple[int, dict]:
    """Rerun the CLI until it exits 0; returns (attempts, the JSON result of the last run)."""
    for attempt in range(1, args.max_reruns + 1):
        proc = subprocess.run(cli_embed(ws, args), capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return attempt, json.loads(proc.stdout)
        print(f"    rerun {attempt} failed (rc {proc.returncode}): {proc.stderr.strip()[-500:]}")
    raise RuntimeError(f"embed did not complete after {args.max_reruns} reruns")


def checkpointed_rows(ws: Path, column: str) -> tuple[int, int, bool]:
    """(rows in complete part files, number of *.tmp leftovers, manifest present)."""
    import pyarrow as pa

    folder = ws / "_workbench_state" / "runs" / TABLE / column
    if not folder.is_dir():
        return 0, 0, False
    rows = 0
    for part in sorted(folder.glob("part-*.arrow")):
        try:
            with pa.memory_map(str(part)) as src:
                rows += pa.ipc.open_file(src).read_all().num_rows
        except pa.ArrowInvalid:
            pass
    return rows, len(list(folder.glob("*.tmp"))), (folder / "manifest.json").exists()


def read_column(ws: Path, column: str, src: str):
    """ids, vectors (N×d float32) and src values of the latest version, ordered by id."""
    import numpy as np

    from workbench.store.workspace import open_workspace

    table = open_workspace(ws).table(TABLE)
    data = table.to_lance().to_table(columns=["id", column, src, "content_hash"])
    order = np.argsort(np.array(data.column("id").to_pylist(), dtype=object), kind="stable")
    data = data.take(order)
    return data


@dataclass
class Outcome:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    equality: str = ""

    def fail(self, msg: str) -> None:
        self.ok = False
        self.problems.append(msg)


def check(ws: Path, column: str, src: str, corpus, reference) -> Outcome:
    import numpy as np
    import pyarrow.compute as pc

    from workbench.contract import candidate_tag
    from workbench.store.workspace import open_workspace

    out = Outcome()
    table = open_workspace(ws).table(TABLE)
    n = corpus.num_rows
    names = table.schema.names
    for name in (column, src):
        if name not in names:
            out.fail(f"column {name} missing")
    if not out.ok:
        return out
    if table.count_rows() != n:
        out.fail(f"row count {table.count_rows()} != corpus {n}")
    data = read_column(ws, column, src)
    ids = data.column("id").to_pylist()
    if len(set(ids)) != len(ids):
        out.fail(f"{len(ids) - len(set(ids))} duplicate ids")
    if set(ids) != set(corpus.column("id").to_pylist()):
        out.fail("id set differs from the corpus")
    vec_col = data.column(column)
    if vec_col.null_count:
        out.fail(f"{vec_col.null_count} rows without a vector")
    vectors = np.stack(vec_col.to_numpy(zero_copy_only=False)) if len(vec_col) else np.zeros((0, 0))
    if np.isnan(vectors).any():
        out.fail("NaN in vectors")
    if not pc.all(pc.equal(data.column(src), data.column("content_hash"))).as_py():
        out.fail("src__ column differs from content_hash")
    ref_ids, ref_vectors = reference
    if ids != ref_ids:
        out.fail("ids differ from the reference column")
    elif np.array_equal(vectors, ref_vectors):
        out.equality = "exact"
    elif np.allclose(vectors, ref_vectors, atol=1e-6, rtol=0):
        out.equality = f"allclose(atol=1e-6), max |diff| {np.abs(vectors - ref_vectors).max():.2e}"
    else:
        out.fail(f"vectors differ from the reference, max |diff| {np.abs(vectors - ref_vectors).max():.2e}")
    # Versions: exactly one adds the column, and it is whole there.
    dataset = table.to_lance()
    versions = sorted(v["version"] for v in table.list_versions())
    has = []
    for v in versions:
        snap = dataset.checkout_version(v)
        has.append(column in snap.schema.names)
    adds = [v for i, v in enumerate(versions) if has[i] and (i == 0 or not has[i - 1])]
    removes = [v for i, v in enumerate(versions) if i and has[i - 1] and not has[i]]
    if len(adds) != 1 or removes:
        out.fail(f"versions adding the column: {adds}, removing it: {removes}")
    first = adds[0] if adds else None
    if first is not None:
        snap = dataset.checkout_version(first)
        whole = snap.count_rows() == n and snap.count_rows(filter=f"{column} IS NOT NULL") == n
        if not whole:
            out.fail(f"column not whole in version {first}")
        tag = candidate_tag(column)
        tags = table.tags.list()
        if tag not in tags:
            out.fail(f"tag {tag} missing")
        elif table.tags.get_version(tag) != first:
            out.fail(f"tag {tag} -> {table.tags.get_version(tag)}, column added in {first}")
    state = ws / "_workbench_state" / "runs" / TABLE / column
    if state.exists():
        left = sum(p.stat().st_size for p in state.rglob("*") if p.is_file())
        out.warnings.append(f"checkpoint folder left behind ({left:,} bytes)")
    out.versions = versions  # type: ignore[attr-defined]
    return out


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show up when piped to a file
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument(
        "--max-chars", type=int, default=300, help="cut each text to this many characters (0: keep)"
    )
    parser.add_argument("--model", default="minilm-l3")
    parser.add_argument("--batch-size", type=int, default=64, help="rows per checkpoint (CLI --batch-size)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-reruns", type=int, default=3)
    parser.add_argument(
        "--redraws",
        type=int,
        default=3,
        help="times a trial is redone when the run completes before its kill time",
    )
    parser.add_argument(
        "--expected", type=float, help="seconds to draw kill times from (default: reference run)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()

    import logging

    import numpy as np

    logging.disable(logging.WARNING)
    from workbench.corpus.readers import Collection
    from workbench.embedding.ingest import ingest_collection
    from workbench.store.config import WorkspaceConfig
    from workbench.store.workspace import open_workspace

    ref = WorkspaceConfig().model(args.model)
    column, src = ref.column, ref.src_column
    corpus, source = build_corpus(args.rows, args.max_chars)
    root = Path(tempfile.mkdtemp(prefix="resume-check-"))
    rng = random.Random(args.seed)
    passed = failed = 0
    print(
        f"corpus: {corpus.num_rows} documents from {source} (text cut to {args.max_chars} chars); "
        f"model {args.model} -> {column}; checkpoint batch {args.batch_size}; seed {args.seed}"
    )
    print(f"cli: {' '.join(cli_embed(Path('WS'), args))}")
    try:
        base = root / "base"
        ingest_collection(open_workspace(base), Collection(corpus=corpus, name=TABLE), table=TABLE)

        ref_ws = root / "reference"
        shutil.copytree(base, ref_ws)
        start = time.perf_counter()
        _, result = run_to_completion(ref_ws, args)
        ref_seconds = time.perf_counter() - start
        expected = args.expected or ref_seconds
        ref_data = read_column(ref_ws, column, src)
        ref_ids = ref_data.column("id").to_pylist()
        ref_vectors = np.stack(ref_data.column(column).to_numpy(zero_copy_only=False))
        print(
            f"reference: uninterrupted run {ref_seconds:.1f}s wall (process start + model load included), "
            f"version {result['version']}, {result['rows']} rows; kill times ~ uniform(0, {expected:.1f}s)"
        )
        ref_check = check(ref_ws, column, src, corpus, (ref_ids, ref_vectors))
        print(f"reference self-check: {'PASS' if ref_check.ok else 'FAIL: ' + '; '.join(ref_check.problems)}")
        equality_modes: set[str] = set()
        killed = 0

        for trial in range(1, args.trials + 1):
            ws = root / f"trial-{trial:02d}"
            for draw in range(1, args.redraws + 2):
                shutil.rmtree(ws, ignore_errors=True)
                shutil.copytree(base, ws)
                kill_at = rng.uniform(0, expected)
                proc = subprocess.Popen(
                    cli_embed(ws, args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                t0 = time.perf_counter()
                finished_first = False
                while time.perf_counter() - t0 < kill_at:
                    if proc.poll() is not None:
                        finished_first = True
                        break
                    time.sleep(0.01)
                if not finished_first:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed += 1
                proc.wait()
                at = time.perf_counter() - t0
                if not finished_first or draw > args.redraws:
                    break
                # The machine got faster than the reference run: draw again from what we saw.
                print(
                    f"  (trial {trial}: run completed in {at:.1f}s, before its kill time {kill_at:.1f}s; "
                    f"kill times now ~ uniform(0, {at:.1f}s), drawing again)"
                )
                expected = at
            rows, tmps, manifest = checkpointed_rows(ws, column)
            had_column = column in open_workspace(ws).table(TABLE).schema.names
            stage = (
                "finished before the kill"
                if finished_first
                else "column already committed" + (", checkpoints not yet removed" if manifest else "")
                if had_column
                else f"{rows}/{corpus.num_rows} rows checkpointed"
                + (f", {tmps} .tmp" if tmps else "")
                + ("" if manifest else ", no manifest yet")
            )
            try:
                reruns, rerun = run_to_completion(ws, args)
                outcome = check(ws, column, src, corpus, (ref_ids, ref_vectors))
                detail = f"{reruns} rerun(s), resumed {rerun['resumed_rows']} rows"
            except Exception as exc:  # a failure to complete is a failed trial, not a crash
                outcome, detail = Outcome(), "rerun raised"
                outcome.fail(f"{type(exc).__name__}: {exc}")
            if outcome.ok:
                passed += 1
                equality_modes.add(outcome.equality)
                verdict = f"PASS ({outcome.equality}; versions {outcome.versions})"  # type: ignore[attr-defined]
            else:
                failed += 1
                verdict = "FAIL: " + "; ".join(outcome.problems)
            if outcome.warnings:
                verdict += " WARNING: " + "; ".join(outcome.warnings)
            print(
                f"trial {trial:2d}: kill at {kill_at:5.1f}s (sent at {at:5.1f}s) -> {stage}; {detail} -> {verdict}",
                flush=True,
            )
            if not args.keep:
                shutil.rmtree(ws, ignore_errors=True)
        if equality_modes:
            print(f"vector equality vs reference: {', '.join(sorted(equality_modes))}")
        print(f"{killed} of {args.trials} trials were SIGKILLed mid-run")
        print(f"{passed} passed, {failed} failed")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
