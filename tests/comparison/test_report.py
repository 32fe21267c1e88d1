"""Report exports (HTML, Markdown, JSON, CSV), charts, and TREC run files checked with pytrec_eval."""

from __future__ import annotations

import dataclasses
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytrec_eval

from workbench.comparison import charts
from workbench.comparison.report import (
    comparison_dict,
    export_run,
    render_html,
    render_markdown,
    write_report,
    write_trec_run,
)
from workbench.comparison.run import compare
from workbench.demo import DEMO_EVAL_SET, NEW_MODEL, OLD_MODEL
from workbench.errors import DataError, InvalidArgumentError, NotFoundError
from workbench.models.catalog import CATALOG
from workbench.models.embedder import Embedder
from workbench.store.comparisons import Comparison
from workbench.store.evalsets import load_eval_set
from workbench.store.workspace import Workspace, open_workspace

XSS_DOC = '<script>alert("doc")</script>'
XSS_QUERY = '<img src=x onerror=alert("query")>'
XSS_ID = '<svg onload=alert("id")>'


@pytest.fixture(scope="module")
def ws(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    target = tmp_path_factory.mktemp("report") / "ws"
    shutil.copytree(demo_template, target)
    return open_workspace(target)


@pytest.fixture(scope="module")
def cmp(ws: Workspace, embedders: dict[str, Embedder]) -> Comparison:
    return compare(ws, baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set=DEMO_EVAL_SET, embedders=embedders)


@pytest.fixture(scope="module")
def hostile(cmp: Comparison) -> Comparison:
    """The real comparison with script-bearing text in every document, query and one doc id."""
    victim = str(cmp.drilldown(str(cmp.worst_regressions(1)["query_id"].iloc[0]))["doc_id"].iloc[0])
    rename = {victim: XSS_ID}
    documents = cmp.documents.assign(
        doc_id=cmp.documents["doc_id"].replace(rename), title=XSS_DOC, snippet=XSS_DOC
    )
    rankings = cmp.rankings.assign(doc_id=cmp.rankings["doc_id"].replace(rename))
    per_query = cmp.per_query.assign(query=XSS_QUERY + " | a\nb")
    return dataclasses.replace(cmp, documents=documents, rankings=rankings, per_query=per_query)


class ScriptCollector(HTMLParser):
    """Collects <script> texts and sources, and every tag with an on* attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.handlers: list[str] = []
        self.sources: list[str | None] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")
            self.sources += [value for name, value in attrs if name == "src"]
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def test_html_is_self_contained_with_figures_tables_and_regressions(cmp: Comparison, tmp_path: Path) -> None:
    path = write_report(cmp, tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("Plotly.newPlot(") == 4
    parser = ScriptCollector()
    parser.feed(page)
    assert parser.sources == [] and sum("plotly.js v" in s for s in parser.scripts) == 1  # inlined once
    assert page.count("plotly.js v") >= 1 and len(page) > 1_000_000
    assert cmp.summary.split(":")[0].replace("<", "&lt;") in page
    assert "<h2>Worst regressions</h2>" in page and page.count('<div class="side">') == 5
    assert cmp.id in page and cmp.manifest.candidate_pin["fingerprint"] in page


def test_document_and_query_text_is_escaped_and_never_runs(hostile: Comparison) -> None:
    page = render_html(hostile)
    parser = ScriptCollector()
    parser.feed(page)
    for script in parser.scripts:  # figures carry titles and ids only as JSON strings, never as markup
        assert not {"query", "id"} & _payloads(script, raw=True)
        assert all(raw not in script for raw in (XSS_DOC, XSS_QUERY, XSS_ID))  # plotly escapes < > /
    assert parser.handlers == []  # no injected onerror= / onload= attribute anywhere
    for raw in (XSS_DOC, XSS_QUERY, XSS_ID):
        assert raw not in page
    assert "&lt;script&gt;alert(&quot;doc&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(&quot;query&quot;)&gt;" in page
    assert "&lt;svg onload=alert(&quot;id&quot;)&gt;" in page


def _payloads(script: str, *, raw: bool = False) -> set[str]:
    """Which of the hostile payloads appear in a script (``raw``: unescaped, as JS would run them)."""
    forms = (
        ('alert("{}")', 'alert(\\"{}\\")') if raw else ('alert("{}")', 'alert(\\"{}\\")', "alert(&quot;{}")
    )
    return {name for name in ("doc", "query", "id") if any(f.format(name) in script for f in forms)}


def test_markdown_escapes_pipes_newlines_and_tags(hostile: Comparison, cmp: Comparison) -> None:
    text = render_markdown(hostile)
    assert XSS_QUERY not in text and "&lt;img src=x" in text and "\\| a b" in text
    table = [line for line in text.splitlines() if line.startswith("| q")]
    header = next(line for line in text.splitlines() if line.startswith("| query_id"))
    assert table and all(line.replace("\\|", "").count("|") == header.count("|") for line in table)
    plain = render_markdown(cmp)
    assert plain.startswith(f"### Embedding comparison `{cmp.id}`") and "| ndcg@10 (primary) |" in plain


def test_json_is_strict_and_complete(cmp: Comparison, tmp_path: Path) -> None:
    data = json.loads(write_report(cmp, tmp_path / "r.json").read_text(), parse_constant=_no_nan)
    assert data["id"] == cmp.id and data["summary"] == cmp.summary
    assert data["manifest"]["n_judged"] == 52 and data["manifest"]["k_values"] == [10, 100]
    assert [d["metric"] for d in data["deltas"]] == cmp.manifest.metrics
    assert len(data["per_query"]) == 57 and set(data["ks"]) == {"statistic", "p"}
    assert {"overlap@10", "rbo", "kendall_tau"} <= set(data["rank_shifts"])
    assert data["histograms"] and data["thresholds"] and data["worst_regressions"]
    assert comparison_dict(cmp, per_query=False).keys() == data.keys() - {"per_query"}


def _no_nan(name: str) -> None:
    raise AssertionError(f"JSON contains {name}")


def test_csv_has_one_row_per_query(cmp: Comparison, tmp_path: Path) -> None:
    frame = pd.read_csv(write_report(cmp, tmp_path / "rows.csv"))
    assert len(frame) == 57 and list(frame.columns) == list(cmp.per_query.columns)
    merged = frame.set_index("query_id")["ndcg@10_delta"].dropna()
    expected = cmp.per_query.set_index("query_id")["ndcg@10_delta"].dropna()
    assert np.allclose(merged.sort_index(), expected.sort_index(), atol=1e-9)


def test_unknown_report_format_is_refused(cmp: Comparison, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="report format 'pdf' is not one of html, md, json, csv"):
        write_report(cmp, tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_charts_build_for_labelled_and_unlabelled_views(cmp: Comparison) -> None:
    deltas = charts.metric_deltas(cmp)
    labels = [label.removesuffix(" (primary)") for label in deltas.data[0].y]
    assert labels[::-1] == cmp.manifest.metrics and deltas.data[0].y[-1] == "ndcg@10 (primary)"
    hist = charts.score_histograms(cmp)
    assert {t.name for t in hist.data} == {"relevant", "non-relevant"} and len(hist.data) == 4
    overlay = charts.score_overlay(cmp)
    assert [t.name.split(":")[0] for t in overlay.data] == ["baseline", "candidate"]
    assert "both models overlaid" in overlay.layout.title.text
    unlabelled = dataclasses.replace(
        cmp, rankings=cmp.rankings.assign(grade=pd.NA).astype({"grade": "Int64"})
    )
    assert charts.score_histograms(unlabelled) == charts.score_overlay(unlabelled)  # nothing to split
    shift = charts.rank_shift(cmp, k=5)
    assert len(shift.data) == len(cmp.drilldown(str(cmp.worst_regressions(1)["query_id"].iloc[0]), k=5))
    assert charts.overlap_histogram(cmp).data[0].type == "histogram"


def test_trec_run_file_reproduces_our_numbers_with_pytrec_eval(
    cmp: Comparison, ws: Workspace, embedders: dict[str, Embedder], tmp_path: Path
) -> None:
    column = CATALOG[NEW_MODEL].column
    result = export_run(
        ws,
        column=NEW_MODEL,
        eval_set=DEMO_EVAL_SET,
        out=tmp_path / "run.txt",
        k=100,
        embedder=embedders[column],
    )
    assert result.lines == 57 * 100 and result.column == column and result.warnings == []
    with (tmp_path / "run.txt").open() as fh:
        run = pytrec_eval.parse_run(fh)
    first = (tmp_path / "run.txt").read_text().splitlines()[0].split()
    assert first[1] == "Q0" and first[3] == "1" and first[5] == column
    qrels = load_eval_set(ws, DEMO_EVAL_SET).qrels
    evaluated = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "map_cut.100", "recall.100"}).evaluate(
        run
    )
    ours = cmp.per_query.set_index("query_id")
    for metric, key in (("ndcg@10", "ndcg_cut_10"), ("map@100", "map_cut_100"), ("recall@100", "recall_100")):
        theirs = pd.Series({q: v[key] for q, v in evaluated.items()})
        assert np.abs(ours.loc[theirs.index, f"{metric}_candidate"] - theirs).max() < 1e-9, metric


def test_export_run_bad_input_writes_nothing(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "run.txt"
    with pytest.raises(NotFoundError, match="no vector column 'ghost'"):
        export_run(ws, column="ghost", eval_set=DEMO_EVAL_SET, out=out)
    with pytest.raises(InvalidArgumentError, match="k must be a positive integer, got 0"):
        export_run(ws, column=NEW_MODEL, eval_set=DEMO_EVAL_SET, out=out, k=0)
    with pytest.raises(NotFoundError, match="no eval set 'nope'"):
        export_run(ws, column=NEW_MODEL, eval_set="nope", out=out)
    assert not out.exists()


def test_trec_run_refuses_ids_with_whitespace(tmp_path: Path) -> None:
    rankings = pd.DataFrame({"query_id": ["q 1"], "rank": [1], "doc_id": ["d1"], "score": [0.5]})
    with pytest.raises(DataError, match="query id 'q 1' contains whitespace"):
        write_trec_run(rankings, tmp_path / "run.txt", run_tag="t")
    with pytest.raises(DataError, match="run tag 'a b' must be non-empty and contain no whitespace"):
        write_trec_run(rankings.assign(query_id="q1"), tmp_path / "run.txt", run_tag="a b")
    assert not (tmp_path / "run.txt").exists()


def test_the_per_query_chart_has_one_point_per_judged_query_carrying_its_id(cmp: Comparison) -> None:
    fig = charts.query_deltas(cmp)
    judged = cmp.per_query.dropna(subset=["ndcg@10_delta"]).set_index("query_id")
    points = {
        data[0]: (x, y)
        for trace in fig.data
        for data, x, y in zip(trace.customdata, trace.x, trace.y, strict=True)
    }
    assert sorted(points) == sorted(judged.index)  # the ids the app opens the drill-down with
    assert all(points[q] == (judged.loc[q, "rbo"], judged.loc[q, "ndcg@10_delta"]) for q in points)
    by_name = {trace.name: trace for trace in fig.data}
    assert set(by_name) == {"better", "worse", "tied"}
    assert all(y > 0 for y in by_name["better"].y) and all(y < 0 for y in by_name["worse"].y)
    assert str(len(cmp.per_query) - len(judged)) + " unjudged not shown" in fig.layout.title.text
    spec = fig.to_json()
    assert not any(text in spec for text in cmp.per_query["query"])  # ids and numbers, no query text
    unlabelled = dataclasses.replace(cmp, per_query=cmp.per_query.assign(**{"ndcg@10_delta": np.nan}))
    flat = charts.query_deltas(unlabelled)
    assert len(flat.data) == 1 and len(flat.data[0].x) == len(cmp.per_query)
    assert flat.layout.yaxis.title.text == "overlap@10"
