"""Judged@k and the judging loop: pool, new eval-set version (old one reproducible), re-run, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.comparison.judging import add_judgements, read_labels, rerun_comparison, write_pool
from workbench.comparison.run import compare
from workbench.contract import EVAL_SETS_TABLE
from workbench.errors import DataError, InvalidArgumentError, NotFoundError
from workbench.metrics.judged import judged_at_k, judged_gap_warning
from workbench.store.comparisons import load_comparison
from workbench.store.evalsets import EvalSet, eval_set_versions, list_eval_sets, load_eval_set, save_eval_set
from workbench.store.workspace import Workspace

runner = CliRunner()


def test_judged_at_k_counts_any_grade_and_leaves_unjudged_queries_out() -> None:
    qrels = {"q1": {"a": 2, "b": 0}, "q2": {}}
    shares = judged_at_k({"q1": ["a", "x", "b", "y"], "q2": ["a"], "q3": ["a"]}, qrels, k=4)
    assert shares["q1"] == 0.5  # a (relevant) and b (judged not relevant) of 4
    assert math.isnan(shares["q2"]) and math.isnan(shares["q3"])
    assert judged_at_k({"q1": ["a", "x"]}, qrels, k=10) == {"q1": 0.5}  # a short list


def test_gap_warning_only_when_the_candidate_is_much_less_judged() -> None:
    assert judged_gap_warning([0.9, 0.8], [0.85, 0.8], k=10) is None
    warning = judged_gap_warning([0.9, 0.9, math.nan], [0.5, 0.6, math.nan], k=10)
    assert warning is not None and "55% of the candidate's top 10" in warning and "90%" in warning
    assert judged_gap_warning([math.nan], [math.nan], k=10) is None


def test_comparison_records_judged_at_k_per_query_and_side(
    compared_ws: Workspace, comparison_id: str
) -> None:
    cmp = load_comparison(compared_ws, comparison_id)
    eval_set = load_eval_set(compared_ws, "demo")
    pq = cmp.per_query.set_index("query_id")
    row = cmp.rankings[(cmp.rankings["side"] == "candidate") & (cmp.rankings["rank"] <= 10)]
    for qid in eval_set.judged_queries[:5]:
        top = row[row["query_id"] == qid]["doc_id"].tolist()
        expected = sum(d in eval_set.qrels[qid] for d in top) / len(top)
        assert pq.loc[qid, "judged@10_candidate"] == pytest.approx(expected)
    summary = cmp.judged().set_index("k")
    assert list(summary.index) == [10, 100]
    assert 0 < summary.loc[10, "candidate"] <= 1 and summary.loc[10, "baseline"] > 0
    pool = cmp.unjudged(k=10)
    assert len(pool) > 0 and not pool.duplicated(["query_id", "doc_id"]).any()
    judged_pairs = {(q, d) for q, j in eval_set.qrels.items() for d in j}
    assert not any((q, d) in judged_pairs for q, d in zip(pool["query_id"], pool["doc_id"], strict=True))
    assert (pool["best_rank"] <= 10).all()


@pytest.mark.slow
def test_judgements_make_a_new_version_and_the_old_one_stays_reproducible(
    compared_ws: Workspace, comparison_id: str, embedders: dict
) -> None:
    cmp = load_comparison(compared_ws, comparison_id)
    before = load_eval_set(compared_ws, "demo")
    pool = cmp.unjudged(k=10)
    first, second = pool.iloc[0], pool.iloc[1]
    labels = {first["query_id"]: {first["doc_id"]: 2}}
    labels.setdefault(second["query_id"], {})[second["doc_id"]] = 0
    result = add_judgements(compared_ws, "demo", labels, author="alice", note="judged two")
    assert (result.added, result.changed, result.eval_set.version) == (2, 0, 2)
    assert "v2: 2 new and 0 changed" in result.message
    versions = eval_set_versions(compared_ws, "demo")
    assert [(v["version"], v["author"]) for v in versions] == [(1, ""), (2, "alice")]
    assert versions[0]["content_hash"] == before.content_hash == cmp.manifest.eval_set_hash
    old = load_eval_set(compared_ws, "demo", content_hash=cmp.manifest.eval_set_hash)
    assert old.qrels == before.qrels and old.version == 1
    assert load_eval_set(compared_ws, "demo").qrels[first["query_id"]][first["doc_id"]] == 2
    assert list_eval_sets(compared_ws)[0]["version"] == 2
    again = add_judgements(compared_ws, "demo", labels, author="alice")
    assert (again.added, again.changed, again.eval_set.version) == (0, 0, 2)
    assert len(eval_set_versions(compared_ws, "demo")) == 2

    fresh = rerun_comparison(compared_ws, cmp, embedders=embedders)
    assert (
        fresh.id != cmp.id and fresh.manifest.eval_set_hash == load_eval_set(compared_ws, "demo").content_hash
    )
    assert (fresh.manifest.baseline_label, fresh.manifest.k_values) == (
        cmp.manifest.baseline_label,
        [10, 100],
    )
    assert len(fresh.unjudged(k=10)) == len(pool) - 2


@pytest.mark.parametrize(
    ("labels", "error", "message"),
    [
        ({"nope": {"d0001": 1}}, DataError, r"1 query not in eval set 'demo', e.g. 'nope'"),
        ({"q01": {"ghost": 1}}, DataError, r"1 judged document id\(s\) not in table 'demo', e.g. 'ghost'"),
        ({"q01": {"d0001": -1}}, InvalidArgumentError, r"grade -1 .* grades are integers >= 0"),
        ({}, InvalidArgumentError, r"no labels given"),
    ],
    ids=["unknown-query", "unknown-doc", "negative-grade", "empty"],
)
def test_bad_labels_write_nothing(demo_ws: Workspace, labels: dict, error: type, message: str) -> None:
    before = load_eval_set(demo_ws, "demo")
    with pytest.raises(error, match=message):
        add_judgements(demo_ws, "demo", labels, author="alice")
    assert load_eval_set(demo_ws, "demo") == before
    assert eval_set_versions(demo_ws, "demo") == []


def test_an_author_is_required_and_unknown_versions_are_named(demo_ws: Workspace) -> None:
    with pytest.raises(InvalidArgumentError, match=r"judgements need an author"):
        add_judgements(demo_ws, "demo", {"q01": {"d0009": 1}}, author=" ")
    with pytest.raises(NotFoundError, match=r"eval set 'demo' has no version 7; versions: v1 \(latest\)"):
        load_eval_set(demo_ws, "demo", version=7)


def test_a_crash_between_history_and_latest_is_finished_by_saving_again(demo_ws: Workspace) -> None:
    es = load_eval_set(demo_ws, "demo")
    changed = EvalSet(es.name, es.table, es.queries, {**es.qrels, "q01": {**es.qrels["q01"], "d0009": 1}})
    real = demo_ws.db.open_table

    def fail_on_latest(name: str, *args: object, **kwargs: object) -> object:
        if name == EVAL_SETS_TABLE and eval_set_versions(demo_ws, "demo"):
            raise OSError("disk went away")
        return real(name, *args, **kwargs)

    demo_ws.db.open_table = fail_on_latest  # type: ignore[method-assign]
    with pytest.raises(OSError):
        save_eval_set(demo_ws, changed, author="bob")
    demo_ws.db.open_table = real  # type: ignore[method-assign]
    assert load_eval_set(demo_ws, "demo").content_hash == es.content_hash  # latest untouched
    saved = save_eval_set(demo_ws, changed, author="bob")
    assert saved.version == 2 and [v["version"] for v in eval_set_versions(demo_ws, "demo")] == [1, 2]


def test_cli_export_label_import_round_trip(
    compared_ws: Workspace, comparison_id: str, tmp_path: Path
) -> None:
    out = tmp_path / "pool.qrels"
    exported = runner.invoke(
        app, ["judge", "export", comparison_id, "-o", str(out), "-w", compared_ws.uri, "--k", "5"]
    )
    assert exported.exit_code == 0, exported.output
    lines = out.read_text().splitlines()
    assert lines and all(line.endswith(" -1") and len(line.split()) == 4 for line in lines)
    assert f"judge import {out} --eval-set demo" in exported.output
    unlabelled = runner.invoke(
        app, ["judge", "import", str(out), "-e", "demo", "--author", "a", "-w", compared_ws.uri]
    )
    assert unlabelled.exit_code == 2 and "no labelled line" in unlabelled.output
    labelled = [line.rsplit(" ", 1)[0] + " 1" for line in lines[:3]] + lines[3:]
    out.write_text("\n".join(labelled) + "\n")
    assert sum(len(j) for j in read_labels(out).values()) == 3
    done = runner.invoke(
        app, ["judge", "import", str(out), "-e", "demo", "--author", "carol", "-w", compared_ws.uri, "--json"]
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert (data["version"], data["added"]) == (2, 3)
    bad = tmp_path / "bad.qrels"
    bad.write_text("q01 0 ghost 1\n")
    refused = runner.invoke(
        app, ["judge", "import", str(bad), "-e", "demo", "--author", "c", "-w", compared_ws.uri]
    )
    assert refused.exit_code == 2 and "'ghost'" in refused.output
    assert len(eval_set_versions(compared_ws, "demo")) == 2


def test_write_pool_writes_trec_lines(tmp_path: Path) -> None:
    import pandas as pd

    n = write_pool(pd.DataFrame({"query_id": ["q1", "q2"], "doc_id": ["a", "b"]}), tmp_path / "p")
    assert n == 2 and (tmp_path / "p").read_text() == "q1 0 a -1\nq2 0 b -1\n"


@pytest.mark.slow
def test_comparisons_on_the_new_version_warn_less(compared_ws: Workspace, embedders: dict) -> None:
    # Every unjudged document of both top 10s judged: both sides fully judged, no gap warning.
    cmp = compare(
        compared_ws, baseline="minilm-l3", candidate="minilm-l6", eval_set="demo", k=[10], embedders=embedders
    )
    pool = cmp.unjudged(k=10)
    labels: dict[str, dict[str, int]] = {}
    for q, d in zip(pool["query_id"], pool["doc_id"], strict=True):
        labels.setdefault(q, {})[d] = 0
    add_judgements(compared_ws, "demo", labels, author="dave")
    again = rerun_comparison(compared_ws, cmp, embedders=embedders)
    assert again.unjudged(k=10).empty
    assert (again.per_query["judged@10_candidate"].dropna() == 1).all()
    assert not any(w.startswith("judged@") for w in again.manifest.warnings)
