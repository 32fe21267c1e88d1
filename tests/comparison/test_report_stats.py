"""Issue #13 §3 in the report: Holm-adjusted p beside the raw one, the primary metric named, the
chart's colours agreeing with the intervals, only meaningful threshold rows, one number format,
and the gate's verdict (issue #17)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.comparison import charts
from workbench.comparison.report import meaningful_thresholds, render_html, render_markdown
from workbench.comparison.run import compare
from workbench.demo import DEMO_EVAL_SET, NEW_MODEL, OLD_MODEL
from workbench.gate.config import GateConfig
from workbench.gate.evaluate import GateContext, evaluate_gate
from workbench.metrics.multiple import adjusted_p, holm
from workbench.models.catalog import CATALOG
from workbench.models.embedder import Embedder
from workbench.store.comparisons import Comparison
from workbench.store.workspace import VectorColumn, open_workspace


@pytest.fixture(scope="module")
def cmp(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory, embedders: dict[str, Embedder]
) -> Comparison:
    target = tmp_path_factory.mktemp("report-stats") / "ws"
    shutil.copytree(demo_template, target)
    ws = open_workspace(target)
    return compare(ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set=DEMO_EVAL_SET, embedders=embedders)


def _with_deltas(cmp: Comparison, **columns: list[float]) -> Comparison:
    """The real comparison with three metrics whose statistics are set by the test."""
    frame = cmp.deltas.iloc[:3].copy()
    for name, values in columns.items():
        frame[name] = values
    return dataclasses.replace(cmp, deltas=frame)


def test_adjusted_p_keeps_the_primary_and_holm_adjusts_the_rest() -> None:
    deltas = pd.DataFrame(
        {"p_permutation": [0.04, 0.02, 0.03, 0.5]}, index=["ndcg@10", "mrr@10", "recall@100", "map@100"]
    )
    adjusted = adjusted_p(deltas, primary="ndcg@10")
    assert adjusted["ndcg@10"] == 0.04
    np.testing.assert_allclose(adjusted.iloc[1:], holm([0.02, 0.03, 0.5]))
    assert adjusted["mrr@10"] == pytest.approx(0.06)  # significant before, not after
    np.testing.assert_allclose(adjusted_p(deltas, primary="nope@1"), holm(deltas["p_permutation"]))


def test_markdown_table_has_holm_column_marks_the_primary_and_one_number_format(cmp: Comparison) -> None:
    odd = _with_deltas(cmp, delta=[0.0005769, -0.02, 0.1234567], p_permutation=[0.00004, 0.02, 0.03])
    text = render_markdown(odd)
    assert "| metric | baseline | candidate | delta | ci_low | ci_high | p | p (Holm) |" in text
    primary = next(line for line in text.splitlines() if line.startswith("| ndcg@10 (primary)"))
    assert "0.0005769" not in text
    # delta +0.001 (signed, three decimals like every row); p and p (Holm) of the primary: <0.001 (escaped).
    assert primary.split(" | ")[3] == "+0.001" and primary.count("&lt;0.001") == 2
    assert "Holm-adjusted" in text and "inversion of the paired sign-flip test" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "(primary)" not in line]
    numbers = re.findall(r"\|\s([+-]?\d+\.\d+)\s(?=\|)", "\n".join(table))
    assert numbers and all(len(n.split(".")[1]) == 3 for n in numbers)


def test_threshold_rows_outside_the_observed_range_are_not_shown(cmp: Comparison) -> None:
    thresholds = pd.DataFrame(
        {
            "old_cutoff": [0.1, 0.5, 0.9, 0.99],
            "share_kept": [1.0, 0.4, 0.0, 0.0],
            "new_cutoff": [0.05, 0.3, 0.8000001, 0.8000001],
            "n_old": 100,
            "n_new": 100,
        }
    )
    assert meaningful_thresholds(thresholds)["old_cutoff"].tolist() == [0.5]
    text = render_markdown(dataclasses.replace(cmp, thresholds=thresholds))
    section = text.split("#### Threshold translation")[1].split("####")[0]
    assert "0.500" in section and "0.990" not in section and "0.900" not in section
    html = render_html(dataclasses.replace(cmp, thresholds=thresholds.iloc[2:]))
    assert "No cut-off" not in html and "<td>0.990</td>" not in html


def test_chart_colours_agree_with_the_intervals(cmp: Comparison) -> None:
    # p < 0.05 with an interval clear of 0; p < 0.05 but not after Holm; not significant.
    odd = _with_deltas(
        cmp,
        delta=[0.05, 0.03, 0.02],
        ci_low=[0.01, 0.001, -0.01],
        ci_high=[0.09, 0.06, 0.05],
        p_permutation=[0.01, 0.04, 0.3],
    )
    spec = json.loads(charts.metric_deltas(odd).to_json())["data"][0]
    colours = dict(zip(spec["y"], spec["marker"]["color"], strict=True))
    names = list(odd.deltas.index)
    assert colours[f"{names[0]} (primary)"] == charts.SIGNIFICANT
    assert colours[names[1]] == charts.BEFORE_HOLM  # Holm: 0.04 x 2 = 0.08
    assert colours[names[2]] == charts.NOT_SIGNIFICANT


def test_report_carries_the_gate_verdict(cmp: Comparison) -> None:
    refs = [CATALOG[OLD_MODEL], CATALOG[NEW_MODEL]]
    columns = [VectorColumn(r.column, r, r.src_column, "", {}) for r in refs]
    context = GateContext(cmp.manifest.table, columns[0], columns[1], cmp.manifest.corpus_digest)
    result = evaluate_gate(GateConfig(min_queries=500), cmp, context)
    assert result.verdict == "INCONCLUSIVE"
    text = render_markdown(cmp, gate=result)
    assert "#### Gate: **INCONCLUSIVE**" in text and "judged queries (gate needs at least 500)" in text
    html = render_html(cmp, gate=result)
    assert "<h2>Gate: INCONCLUSIVE</h2>" in html
