"""Benchmark of the embedding engines: local vs Ray (1 and 2 workers), in one run.

Same corpus (the first N SciFact documents, ingested in F pieces so the table has F fragments),
same model, one process. Measured:

1. Ray start-up: ``ray.init(num_cpus=2)`` on this machine.
2. Throughput, end to end (table -> column committed and tagged, model loading included), for
   - ``local``: ``embed(engine="local")`` in this process (torch uses every core);
   - ``ray-1``: ``embed(engine="ray")``, 1 worker reserving 2 CPUs (2 torch threads);
   - ``ray-2``: 2 workers reserving 1 CPU each (1 torch thread each);
   - ``lance_ray``: ``lance_ray.add_columns`` with a batch UDF (2 pool processes, the model
     cached per process), for comparison: no checkpoints, no resume.
   Engines alternate for ``--rounds`` rounds; each row reports min–max over the rounds and the
   ratio to ``local`` of the same round. The model-load cost is reported separately.
3. Bytes written per column: table size after minus before, / (N·d·4), for the local and the ray
   engine on local disk and on object storage (a moto S3 server started here; boto3 lists the
   objects). Goal <= 1.1.

Run:  HF_HUB_OFFLINE=1 RAY_AUTH_MODE=disabled python bench/bench_engines.py [--rows 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SCIFACT = Path("/work/shared/data/scifact/corpus.jsonl")
DEMO = REPO / "data" / "demo" / "corpus.jsonl"
TABLE = "corpus"


def load_docs(rows: int) -> tuple[list[dict], str]:
    source = SCIFACT if SCIFACT.is_file() else DEMO
    if source is DEMO:
        print(f"note: {SCIFACT} is absent; using the demo corpus", file=sys.stderr)
    docs = [json.loads(line) for line in source.read_text().splitlines()[:rows]]
    return docs, f"{source.parent.name} (first {len(docs)} documents)"


def build(ws_uri: str, docs: list[dict], pieces: int, scratch: Path, **open_kwargs) -> None:
    """Ingest ``docs`` as ``pieces`` growing prefixes: one fragment per piece."""
    from workbench.embedding.ingest import ingest
    from workbench.store.workspace import open_workspace

    ws = open_workspace(ws_uri, **open_kwargs)
    step = -(-len(docs) // pieces)
    for end in range(step, len(docs) + step, step):
        folder = scratch / f"part{end}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs[:end]))
        ingest(ws, folder, table=TABLE)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_engine(name: str, ws_path: Path, alias: str) -> float:
    """One end-to-end embed on ``ws_path``; returns seconds."""
    from workbench.embedding.ray_engine import RayOptions
    from workbench.embedding.run import embed
    from workbench.store.workspace import open_workspace

    ws = open_workspace(ws_path)
    ref = ws.model(alias)
    start = time.perf_counter()
    if name == "local":
        embed(ws, TABLE, ref)
    elif name == "ray-1":
        embed(ws, TABLE, ref, engine="ray", ray=RayOptions(workers=1, cpus_per_worker=2))
    elif name == "ray-2":
        embed(ws, TABLE, ref, engine="ray", ray=RayOptions(workers=2, cpus_per_worker=1))
    elif name == "lance_ray":
        lance_ray_add_columns(ws.table(TABLE).to_lance().uri, ref)
    else:
        raise ValueError(name)
    return time.perf_counter() - start


_MODEL = {}


def _lance_ray_udf(ref_json: str):
    import lance
    import pyarrow as pa

    from workbench.embedding.batch import embed_batch, vector_schema
    from workbench.models.loading import load_embedder
    from workbench.models.ref import ModelRef

    ref = ModelRef.model_validate_json(ref_json)
    schema = vector_schema(ref)
    out = pa.schema([schema.field(1), schema.field(2)])

    @lance.batch_udf(output_schema=out)
    def columns(batch: pa.RecordBatch) -> pa.RecordBatch:
        if ref.fingerprint not in _MODEL:
            import torch

            torch.set_num_threads(1)
            _MODEL[ref.fingerprint] = load_embedder(ref)
        rows = embed_batch(_MODEL[ref.fingerprint], batch, schema, encode_batch=32)
        return pa.RecordBatch.from_arrays([rows.column(1), rows.column(2)], schema=out)

    return columns


def lance_ray_add_columns(uri: str, ref) -> None:
    import lance_ray

    lance_ray.add_columns(
        uri,
        transform=_lance_ray_udf(ref.model_dump_json()),
        read_columns=["id", "title", "text", "content_hash"],
        batch_size=256,
        concurrency=2,
        ray_remote_args={"num_cpus": 1},
    )


def model_load_seconds(alias: str) -> float:
    from workbench.models.catalog import CATALOG
    from workbench.models.loading import load_embedder

    start = time.perf_counter()
    load_embedder(CATALOG[alias])
    return time.perf_counter() - start


def s3_bytes(args, docs: list[dict], scratch: Path) -> dict[str, float]:
    """Bytes per column on a moto S3 server: local engine and ray engine."""
    import subprocess
    import urllib.request

    import boto3

    from tests.servers import free_port
    from workbench.embedding.ray_engine import RayOptions
    from workbench.embedding.run import embed
    from workbench.store.workspace import open_workspace

    port = free_port()
    binary = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        options = {
            "aws_endpoint": endpoint,
            "aws_region": "us-east-1",
            "allow_http": "true",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        found = {}
        for engine in ("local", "ray-2"):
            bucket = f"bench-{engine}".replace("-", "")
            client.create_bucket(Bucket=bucket)
            uri = f"s3://{bucket}/ws"
            build(uri, docs, args.fragments, scratch / f"s3-{engine}", storage_options=options)

            def size(bucket: str = bucket) -> int:
                pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                return sum(o["Size"] for page in pages for o in page.get("Contents", []))

            ws = open_workspace(uri, storage_options=options)
            ref = ws.model(args.model)
            before = size()
            if engine == "local":
                embed(ws, TABLE, ref)
            else:
                embed(ws, TABLE, ref, engine="ray", ray=RayOptions(workers=2, cpus_per_worker=1))
            found[engine] = (size() - before) / (len(docs) * ref.dim * 4)
            print(f"S3 {engine}: bytes/(N·d·4) {found[engine]:.3f}", file=sys.stderr, flush=True)
        return found
    finally:
        proc.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--fragments", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="minilm-l3")
    parser.add_argument("--engines", default="local,ray-1,ray-2,lance_ray")
    parser.add_argument("--skip-s3", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    engines = args.engines.split(",")

    import ray

    docs, source = load_docs(args.rows)
    scratch = Path(tempfile.mkdtemp(prefix="bench-engines-"))
    try:
        template = scratch / "template"
        build(str(template), docs, args.fragments, scratch / "parts")
        start = time.perf_counter()
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}},
        )
        ray_start = time.perf_counter() - start
        load = model_load_seconds(args.model)
        print(f"Ray start-up {ray_start:.1f}s; model load {load:.1f}s", file=sys.stderr, flush=True)
        seconds: dict[str, list[float]] = {e: [] for e in engines}
        bytes_local: dict[str, float] = {}
        for round_ in range(args.rounds):
            for engine in engines:
                path = scratch / f"{engine}-{round_}"
                shutil.copytree(template, path)
                table_dir = path / f"{TABLE}.lance"
                before = folder_bytes(table_dir)
                seconds[engine].append(run_engine(engine, path, args.model))
                from workbench.models.catalog import CATALOG

                bytes_local[engine] = (folder_bytes(table_dir) - before) / (
                    len(docs) * CATALOG[args.model].dim * 4
                )
                print(
                    f"round {round_ + 1} {engine}: {seconds[engine][-1]:.1f}s, "
                    f"bytes/(N·d·4) {bytes_local[engine]:.3f}",
                    file=sys.stderr,
                    flush=True,
                )
        s3 = {} if args.skip_s3 else s3_bytes(args, docs, scratch)
        print(
            f"\ncorpus: {source}, {args.fragments} fragments; model {args.model}; {os.cpu_count()} cores; "
            f"load average {os.getloadavg()[0]:.1f} at the end"
        )
        print(
            f"Ray start-up (ray.init, num_cpus=2): {ray_start:.1f}s; model load in this process: {load:.1f}s\n"
        )
        print(
            f"{'engine':<10} {'seconds (min–max)':>18} {'rows/s (min–max)':>18} {'ratio to local (per round)':>28} {'bytes/(N·d·4) local disk':>26}"
        )
        for engine in engines:
            runs = seconds[engine]
            rates = [len(docs) / s for s in runs]
            ratios = [seconds["local"][i] / s for i, s in enumerate(runs)] if "local" in seconds else []
            ratio = (
                f"{min(ratios):.2f}–{max(ratios):.2f} (median {statistics.median(ratios):.2f})"
                if ratios
                else "-"
            )
            print(
                f"{engine:<10} {min(runs):>8.1f}–{max(runs):<8.1f} {min(rates):>8.1f}–{max(rates):<8.1f} "
                f"{ratio:>28} {bytes_local[engine]:>26.3f}"
            )
        for engine, value in s3.items():
            print(f"bytes/(N·d·4) on S3 (moto), {engine} engine: {value:.3f}")
    finally:
        ray.shutdown()
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
