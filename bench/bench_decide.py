"""Decide before migrating, measured on real collections: leaderboard, Matryoshka curves, adapter recovery, plan vs run.

Usage (a workspace where each collection is ingested as a table named after it, with an eval set
of the same name, and embedded by minilm-l3 and minilm-l6; see bench/README.md):

    python bench/bench_decide.py --workspace /tmp/bench15/ws --tables scifact,cranfield
    python bench/bench_decide.py --workspace /tmp/bench15/ws --served e5   # + a pinned served model
    python bench/bench_decide.py --plan-check /work/shared/data/scifact --model minilm-l3 --rounds 2

Prints Markdown tables for BENCHMARKS.md. Quality numbers are deterministic; seconds depend on
how busy the machine is.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import workbench as wb
from workbench.models.catalog import CATALOG
from workbench.models.loading import load_embedder

MODELS = ("minilm-l3", "minilm-l6")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default="/tmp/bench15/ws")
    parser.add_argument("--tables", default="scifact,cranfield")
    parser.add_argument("--dims", default="32,64,128,256")
    parser.add_argument("--kinds", default="procrustes,affine,mlp")
    parser.add_argument("--sections", default="board,sweep,adapters", help="Which tables to print.")
    parser.add_argument("--sweep-models", default=",".join(MODELS), help="Columns to sweep.")
    parser.add_argument(
        "--plan-check", metavar="BEIR_DIR", help="Plan, then embed, a fresh copy of this corpus."
    )
    parser.add_argument(
        "--served", default="", help="Alias of a pinned served model embedded on every table (optional)."
    )
    parser.add_argument("--epochs", type=int, default=40, help="Epochs of the MLP adapter.")
    parser.add_argument("--model", default="minilm-l3")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    embedders = {CATALOG[m].column: load_embedder(CATALOG[m]) for m in MODELS}
    if args.plan_check:
        plan_check(Path(args.plan_check), args.model, args.rounds, embedders)
        return
    ws = wb.open_workspace(args.workspace)
    for table in args.tables.split(","):
        print(f"\n## {table}\n")
        served = [args.served] if args.served else []
        if "board" in args.sections:
            board_section(ws, table, [*MODELS, *served], embedders)
        if "sweep" in args.sections:
            dims = [int(d) for d in args.dims.split(",")]
            sweep_section(ws, table, dims, [*args.sweep_models.split(","), *served], embedders, set(served))
        if "adapters" in args.sections:
            adapter_section(ws, table, args.kinds.split(","), embedders, args.epochs)


def board_section(ws: wb.Workspace, table: str, models: list[str], embedders: dict) -> None:
    start = time.perf_counter()
    board = wb.leaderboard(ws, eval_set=table, models=models, baseline=MODELS[0], embedders=embedders)
    print(f"leaderboard ({board.n_judged} judged queries, {time.perf_counter() - start:.1f} s)\n")
    print(
        "| model | nDCG@10 [95% CI] | recall@100 [95% CI] | B/vector | ms/query | docs/s embed | $/1M tok |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in board.rows.to_dict("records"):
        print(
            f"| {r['label']} | {_ci(r, 'ndcg@10')} | {_ci(r, 'recall@100')} | {r['bytes_per_vector']} | "
            f"{r['query_ms']:.1f} | {r['embed_docs_per_s']:.0f} | {'' if r['price_per_million'] != r['price_per_million'] else r['price_per_million']} |"
        )
    for p in board.pairs.to_dict("records"):
        print(
            f"\n{p['b']} − {p['a']} {p['metric']}: {p['delta']:+.3f} [{p['ci_low']:.3f}, {p['ci_high']:.3f}], p={p['p']:.4f}, Holm p={p['p_holm']:.4f}"
        )
    print(f"\n> {board.recommendation}\n")


def sweep_section(
    ws: wb.Workspace, table: str, dims: list[int], models: list[str], embedders: dict, served: set[str]
) -> None:
    for model in models:
        via = "api" if model in served else "stored"
        start = time.perf_counter()
        curve = wb.matryoshka_sweep(ws, column=model, eval_set=table, dims=dims, embedders=embedders, via=via)
        print(f"Matryoshka {model} on {table} (via {via}, {time.perf_counter() - start:.1f} s)\n")
        print("| dim | B/vector | nDCG@10 [95% CI] | Δ vs full (p) | retained | recall@100 | queries |")
        print("|---|---|---|---|---|---|---|")
        for p in curve.points.to_dict("records"):
            print(
                f"| {p['dim']} | {p['bytes_per_vector']} | {_ci(p, 'ndcg@10')} | {p['ndcg@10_delta']:+.3f} "
                f"({p['ndcg@10_p']:.4f}) | {p['retained']:.1%} | {p['recall@100']:.3f} | {p['source']} |"
            )
        for note in curve.notes:
            print(f"\n> {note}")
        print()


def adapter_section(ws: wb.Workspace, table: str, kinds: list[str], embedders: dict, epochs: int) -> None:
    print(f"Drift-Adapter minilm-l6 queries → minilm-l3 index on {table}\n")
    print(
        "| kind | fit s | held-out cos | nDCG@10 old→old / adapted / new→new | recovery | gap closed | R@100 recovery | top-10 agreement |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        start = time.perf_counter()
        adapter = wb.fit_adapter(
            ws, source=MODELS[1], target=MODELS[0], kind=kind, table=table, epochs=epochs
        )
        fit_s = time.perf_counter() - start
        result = wb.evaluate_adapter(ws, adapter, eval_set=table, embedders=embedders)
        n = result.rows["ndcg@10"]
        print(
            f"| {kind} | {fit_s:.1f} | {adapter.fit_cosine['heldout']:.3f} | {n['old→old']:.3f} / {n['adapted→old']:.3f} / "
            f"{n['new→new']:.3f} | {result.recovery['ndcg@10']:.1%} | {result.gap_closed['ndcg@10']:.1%} | "
            f"{result.recovery['recall@100']:.1%} | {result.agreement:.1%} |"
        )
    print()


def plan_check(corpus: Path, model: str, rounds: int, embedders: dict) -> None:
    ref = CATALOG[model]
    embedder = embedders[ref.column]
    print("| round | rows | tokens | estimated | measured | error |")
    print("|---|---|---|---|---|---|")
    for round_ in range(1, rounds + 1):
        folder = Path(tempfile.mkdtemp(prefix="plan-check-"))
        try:
            ws = wb.open_workspace(folder / "ws")
            wb.ingest(ws, corpus, table="t", eval_set="e")
            plan = wb.plan_embed(ws, "t", ref, embedder=embedder, sample=128)
            result = wb.embed(ws, "t", ref, embedder=embedder)
            check = wb.check_plan(plan, result)
            print(
                f"| {round_} | {plan.rows} | {plan.tokens} | {plan.seconds:.0f} s | {check.measured_seconds:.0f} s | "
                f"{check.error:+.1%} |"
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _ci(row: dict, metric: str) -> str:
    return f"{row[metric]:.3f} [{row[f'{metric}_ci_low']:.3f}, {row[f'{metric}_ci_high']:.3f}]"


if __name__ == "__main__":
    main()
