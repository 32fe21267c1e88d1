"""Calibration of the promotion gate on Cranfield (issue #17): false GO, false NO-GO, INCONCLUSIVE.

Cranfield (1,400 documents, 225 graded queries) is embedded once with both catalog models and
compared on all 225 queries; minilm-l6 is better there by far more than the gate's 0.01 margin.
Then, for each seed, ``--subsets`` random 30-query subsets are drawn and the gate (default
``gate.toml``: primary nDCG@10 non-inferiority at margin 0.01, recall@100 guard rail) runs both
ways: better over worse (a NO-GO is wrong) and worse over better (a GO is wrong). Each
INCONCLUSIVE subset is grown by the number of queries the verdict asked for, drawn from the
rest of the collection, and judged again. The old gate (percentile-of-bootstrap lower bound
>= -0.01, pass/fail) is run on the same subsets for reference.

Run:  HF_HUB_OFFLINE=1 /work/main/.venv/bin/python bench/bench_gate_calibration.py [--seeds 17 18 19]

The workspace (ingest + two embedding runs, a few minutes) is cached under
``$WORKBENCH_CACHE/bench/gate-cranfield`` (default ``~/.cache/workbench``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.gate.test_gate_calibration import readable_copy
from workbench.comparison.run import compare
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.gate.calibration import calibrate_gate, summarise_calibration
from workbench.gate.config import GateConfig
from workbench.models.catalog import CATALOG
from workbench.store.workspace import open_workspace

CRANFIELD = Path(os.environ.get("WORKBENCH_SHARED_DATA", "/work/shared/data")) / "cranfield"
CACHE = (
    Path(os.environ.get("WORKBENCH_CACHE", Path.home() / ".cache" / "workbench")) / "bench" / "gate-cranfield"
)


def per_query() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(minilm-l3, minilm-l6) per-query nDCG@10 and recall@100 on all judged Cranfield queries."""
    ws = open_workspace(CACHE / "ws")
    if not ws.has_table("cranfield"):
        source = CACHE / "cranfield"
        if not source.exists():
            readable_copy(CRANFIELD, source)
        ingest(ws, source, table="cranfield")
    for alias in (OLD_MODEL, NEW_MODEL):
        embed(ws, "cranfield", CATALOG[alias])
    cmp = compare(ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="cranfield", store=False)
    judged = cmp.per_query[cmp.per_query["judged"]].set_index("query_id")
    metrics = ["ndcg@10", "recall@100"]
    print(cmp.deltas[["baseline", "candidate", "delta", "ci_low", "ci_high", "p_permutation"]].to_string())
    return tuple(  # type: ignore[return-value]
        judged[[f"{m}_{side}" for m in metrics]].set_axis(metrics, axis=1)
        for side in ("baseline", "candidate")
    )


def old_gate(worse: pd.DataFrame, better: pd.DataFrame, *, subsets: int, seed: int) -> dict[str, float]:
    """The gate before issue #17 on the same subsets: BCa lower bound of nDCG@10 >= -0.01 and
    recall@100 delta >= -0.01 -> pass, else "failed"."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    ids = np.asarray(worse.index)
    refused_better = promoted_worse = 0
    for _ in range(subsets):
        chosen = rng.permutation(ids)[:30]
        for base, cand, better_is_candidate in ((worse, better, True), (better, worse, False)):
            diff = (cand.loc[chosen] - base.loc[chosen]).to_numpy()
            low = stats.bootstrap(
                (diff[:, 0],), np.mean, method="BCa", n_resamples=10_000, rng=rng
            ).confidence_interval.low
            passed = low >= -0.01 and diff[:, 1].mean() >= -0.01
            refused_better += better_is_candidate and not passed
            promoted_worse += (not better_is_candidate) and passed
    return {"old: better refused": refused_better / subsets, "old: worse promoted": promoted_worse / subsets}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[17, 18, 19])
    parser.add_argument("--subsets", type=int, default=200)
    parser.add_argument("--size", type=int, default=30)
    args = parser.parse_args()
    if not (CRANFIELD / "corpus.jsonl").is_file():
        print(f"skipped: {CRANFIELD} is absent")
        return 0
    l3, l6 = per_query()
    print(
        f"full set: nDCG@10 {l3['ndcg@10'].mean():.4f} -> {l6['ndcg@10'].mean():.4f}; "
        f"recall@100 {l3['recall@100'].mean():.4f} -> {l6['recall@100'].mean():.4f}"
    )
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        runs = calibrate_gate(l3, l6, GateConfig(), size=args.size, subsets=args.subsets, seed=seed)
        summary = summarise_calibration(runs)
        capped = (runs["queries_needed"].fillna(0) > len(l3)).mean()
        print(
            f"\nseed {seed} ({time.perf_counter() - start:.0f} s; INCONCLUSIVE asking for more than the "
            f"collection has: {capped:.1%} of all runs)"
        )
        print(summary.to_string(float_format="{:.3f}".format))
        print(old_gate(l3, l6, subsets=args.subsets, seed=seed))
        rows.append(summary.assign(seed=seed))
    print("\n" + pd.concat(rows).reset_index().to_string(index=False, float_format="{:.3f}".format))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
