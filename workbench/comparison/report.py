"""Exports of a comparison (HTML, Markdown, JSON, CSV) and TREC run files.

HTML is one self-contained file: plotly.js is inlined once, so it opens offline. Every piece
of corpus or query text is escaped (``html.escape`` in HTML, escaped pipes and angle brackets
in Markdown), and figures carry ids and numbers only, so a document containing ``<script>``
shows as text and never runs.

A TREC run file (``qid Q0 docid rank score tag``) lets anyone recompute our numbers with
``trec_eval``; :func:`export_run` writes one for any column and eval set.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import pandas as pd

from workbench.checks import positive_int
from workbench.comparison import charts
from workbench.comparison.segments import describe_segments, segment_view
from workbench.errors import DataError, InvalidArgumentError
from workbench.formatting import MISSING, number, p_text, p_value
from workbench.metrics.multiple import DEFAULT_PRIMARY, adjusted_p
from workbench.progress import ProgressFn
from workbench.retrieval.encode import embedder_for
from workbench.retrieval.search import check_fresh, retrieve
from workbench.store.comparisons import SIDES, Comparison
from workbench.store.evalsets import load_eval_set

if TYPE_CHECKING:
    from workbench.models.embedder import Embedder
    from workbench.store.workspace import Workspace

__all__ = [
    "FORMATS",
    "ReportFormat",
    "RunExport",
    "comparison_dict",
    "escape_markdown",
    "export_run",
    "inert_cell",
    "meaningful_thresholds",
    "rank_shift_means",
    "render_csv",
    "render_html",
    "render_json",
    "render_markdown",
    "render_report",
    "runbook_command",
    "write_output",
    "write_report",
    "write_trec_run",
]

ReportFormat = Literal["html", "md", "json", "csv"]
FORMATS: tuple[str, ...] = get_args(ReportFormat)
_DELTA_VIEW = [
    "baseline",
    "candidate",
    "delta",
    "ci_low",
    "ci_high",
    "p_permutation",
    "p_adjusted",
    "wins",
    "ties",
    "losses",
]
_P_COLUMNS = frozenset({"p", "p (Holm)", "p_adjusted", "p_permutation", "p_ttest", "p_value"})
_SEGMENTS_NOTE = (
    "headline metric per segment of the queries; p (Holm): adjusted across all the segments; "
    "every metric per segment is in `workbench report --format json`"
)
_STATS_NOTE = (
    "95% interval: inversion of the paired sign-flip test, so it excludes 0 exactly when p < 0.05; "
    "p: that test; p (Holm): {primary} (the gate's pre-registered primary metric) as is, the other "
    "metrics Holm-adjusted as one family"
)


class GateCheckLike(Protocol):
    """One gate check as the report shows it (``workbench.gate.verdict.GateCheck``)."""

    @property
    def outcome(self) -> str: ...
    @property
    def detail(self) -> str: ...


class GateVerdict(Protocol):
    """The gate's verdict as the report shows it (``workbench.gate.evaluate.GateResult``)."""

    @property
    def verdict(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def checks(self) -> Sequence[GateCheckLike]: ...


_WHITESPACE = re.compile(r"\s")


# --- data ----------------------------------------------------------------------------------


def comparison_dict(cmp: Comparison, *, per_query: bool = True, n_worst: int = 10) -> dict[str, Any]:
    """Everything a machine needs (CI, dashboards), JSON-ready: NaN becomes ``null``."""
    data: dict[str, Any] = {
        "id": cmp.id,
        "summary": cmp.summary,
        "manifest": asdict(cmp.manifest),
        "deltas": _records(cmp.deltas.reset_index()),
        "rank_shifts": rank_shift_means(cmp),
        "ks": cmp.ks._asdict(),
        "thresholds": _records(cmp.thresholds),
        "histograms": _records(cmp.histograms()),
        "worst_regressions": _records(cmp.worst_regressions(n_worst)),
        "segments": _records(cmp.segments),
        "segment_summary": describe_segments(cmp),
        "runbook": runbook_command(cmp),
    }
    if per_query:
        data["per_query"] = _records(cmp.per_query)
    return _finite(data)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", double_precision=15))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def rank_shift_means(cmp: Comparison) -> dict[str, float]:
    """Mean overlap@k and Jaccard@k per k, RBO, Kendall τ and entered/left over all queries."""
    columns = [c for c in cmp.per_query.columns if c.startswith(("overlap@", "jaccard@"))]
    columns += ["rbo", "kendall_tau", "n_entered", "n_left"]
    return {c: float(cmp.per_query[c].mean()) for c in columns}


# --- renderers -----------------------------------------------------------------------------


def render_json(cmp: Comparison, *, gate: GateVerdict | None = None) -> str:
    """:func:`comparison_dict` as JSON, with the gate's verdict and checks when ``gate`` is given."""
    data = comparison_dict(cmp)
    if gate is not None:
        checks = [{"outcome": c.outcome, "detail": c.detail} for c in gate.checks]
        data["gate"] = {"verdict": gate.verdict, "summary": gate.summary, "checks": checks}
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)


def render_csv(cmp: Comparison) -> str:
    """One row per query: text, every metric per side and delta, rank shifts.

    Text cells are neutralised against CSV (formula) injection as OWASP recommends: a cell that
    starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so a
    spreadsheet shows it as text instead of evaluating it. Numbers are left as they are.
    """
    frame = cmp.per_query.copy()
    for name in frame.columns:
        if frame[name].dtype == object or pd.api.types.is_string_dtype(frame[name]):
            frame[name] = frame[name].map(inert_cell).astype(object)
    return frame.to_csv(index=False, float_format="%.10g")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(value: object) -> object:
    """``value`` made safe for a spreadsheet cell (OWASP CSV injection); non-strings unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def render_markdown(
    cmp: Comparison, *, n_worst: int = 10, primary: str = DEFAULT_PRIMARY, gate: GateVerdict | None = None
) -> str:
    """A pull-request comment: verdict, sentence, warnings, metric table, shifts, worst queries.

    ``primary`` is the gate's pre-registered metric (marked, not Holm-adjusted); ``gate`` adds
    the gate's verdict (GO / NO-GO / INCONCLUSIVE) with every check.
    """
    m = cmp.manifest
    lines = [
        f"### Embedding comparison `{cmp.id}`",
        "",
        f"**{_md(m.baseline_label)}** (`{m.baseline_column}`) → **{_md(m.candidate_label)}** "
        f"(`{m.candidate_column}`) on eval set `{_md(m.eval_set)}`, "
        f"table `{_md(m.table)}` v{m.table_version}: "
        f"{m.n_queries} queries, {m.n_judged} judged, {m.n_unjudged} without judgements (rank shifts only).",
        "",
        f"> {_md(cmp.summary)}",
        "",
        *[f"- ⚠️ {_md(w)}" for w in m.warnings],
        "",
    ]
    if gate is not None:
        lines += [f"#### Gate: **{gate.verdict}**", "", f"> {_own(gate.summary)}", ""]
        lines += [f"- {_MARK[c.outcome]} {_own(c.detail)}" for c in gate.checks] + [""]
    if len(cmp.deltas):
        lines += ["#### Metrics", "", f"_{_STATS_NOTE.format(primary=primary)}._", ""]
        lines += _md_table(_delta_view(cmp.deltas, primary).reset_index())
    if not cmp.segments.empty:
        lines += [
            "",
            f"#### Segments ({_own(cmp.manifest.segment_source)})",
            "",
            f"> {_md(describe_segments(cmp))}",
            "",
        ]
        lines += [f"_{_SEGMENTS_NOTE}._", ""]
        lines += _md_table(segment_view(cmp))
    lines += ["", "#### Rank shifts (mean over all queries)", ""]
    lines += _md_table(pd.DataFrame([rank_shift_means(cmp)]))
    lines += ["", f"#### Threshold translation (KS distance {cmp.ks.statistic:.3f})", ""]
    lines += _threshold_lines(cmp)
    worst = cmp.worst_regressions(n_worst)
    if len(worst):
        lines += ["", "#### Worst regressions", ""]
        lines += _md_table(worst)
    lines += ["", f"Migration runbook: `{_own(runbook_command(cmp))}`"]
    return "\n".join(lines) + "\n"


def runbook_command(cmp: Comparison) -> str:
    """The command that writes the migration runbook for this comparison's candidate."""
    return (
        f"workbench runbook {cmp.manifest.candidate_column} --comparison {cmp.id} --out runbook-{cmp.id}.md"
    )


def escape_markdown(text: object) -> str:
    """``text`` as inert Markdown: one line, no HTML, no links, images, emphasis or code.

    Query and document text is untrusted: ``![x](http://host/b.png)`` in a query would make a
    browser (the app, a pull-request page) fetch that URL. Every character Markdown acts on is
    backslash-escaped and HTML is entity-escaped, so the text renders exactly as written.
    """
    escaped = html.escape(str(text), quote=False)
    escaped = _MD_ACTIVE.sub(r"\\\1", escaped)
    return re.sub(r"[\r\n]+", " ", escaped)


_MARK = {"pass": "✅", "fail": "❌", "undecided": "❔"}
_MD_ACTIVE = re.compile(r"([\\`*_{}\[\]()!|~$#])")


def _md(text: object) -> str:
    return escape_markdown(text)


def _own(text: object) -> str:
    """Text the workbench wrote itself (metric labels, gate reasons): one table-safe line, HTML-escaped."""
    return re.sub(r"[\r\n]+", " ", html.escape(str(text), quote=False)).replace("|", "\\|")


def _md_table(frame: pd.DataFrame) -> list[str]:
    header = "| " + " | ".join(str(c).replace("|", "\\|") for c in frame.columns) + " |"  # our names
    rows = [
        "| "
        + " | ".join(
            (_own if c == "metric" else _md)(_fmt(v, column=c))
            for c, v in zip(frame.columns, row, strict=True)
        )
        + " |"
        for row in frame.itertuples(index=False)
    ]
    return [header, "|" + "---|" * len(frame.columns), *rows]


_SIGNED_COLUMNS = frozenset({"delta", "ci_low", "ci_high"})


def _fmt(value: object, *, column: object = None) -> str:
    """Every number by :mod:`workbench.formatting`: three decimals, deltas and their intervals
    signed, no negative zero, p-values below 0.001 as ``<0.001``; so columns line up."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, float):
        if str(column) in _P_COLUMNS:
            return p_value(value)
        return number(value, signed=str(column) in _SIGNED_COLUMNS)
    return str(value)


def _delta_view(deltas: pd.DataFrame, primary: str = DEFAULT_PRIMARY) -> pd.DataFrame:
    """The metric table: adjusted p beside the raw one, the primary metric marked."""
    view = deltas.assign(p_adjusted=adjusted_p(deltas, primary=primary))[_DELTA_VIEW]
    view = view.rename(columns={"p_permutation": "p", "p_adjusted": "p (Holm)"})
    view.index = [f"{m} (primary)" if m == primary else str(m) for m in view.index]
    view.index.name = "metric"
    return view


def meaningful_thresholds(thresholds: pd.DataFrame) -> pd.DataFrame:
    """The threshold translations worth showing: cut-offs inside the old scores' observed range.

    A cut-off above every observed score keeps nothing (it would "translate" to just above
    the new model's maximum) and one below every score keeps everything; neither says anything.
    """
    inside = (thresholds["share_kept"] > 0) & (thresholds["share_kept"] < 1)
    return thresholds.loc[inside, ["old_cutoff", "share_kept", "new_cutoff"]].reset_index(drop=True)


def _threshold_lines(cmp: Comparison) -> list[str]:
    shown = meaningful_thresholds(cmp.thresholds)
    if shown.empty:
        return ["No cut-off lies inside the observed score range."]
    return _md_table(shown)


# --- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right;vertical-align:top}
td.text,th.text{text-align:left}
.summary{font-size:1.2em;background:#f1f6fb;border-left:4px solid #1f77b4;padding:.6em 1em}
.warn{background:#fff6e5;border-left:4px solid #e69500;padding:.4em 1em;margin:.3em 0}
.side{display:flex;gap:1.5em}.side>div{flex:1}
.kept{color:#555}.entered{color:#2ca02c}.left{color:#d62728}
.rel{font-weight:bold}
small{color:#666}
"""


def render_html(
    cmp: Comparison,
    *,
    n_worst: int = 5,
    k: int | None = None,
    primary: str = DEFAULT_PRIMARY,
    gate: GateVerdict | None = None,
) -> str:
    """One self-contained HTML page (plotly.js inlined once; every text escaped)."""
    m = cmp.manifest
    worst = cmp.worst_regressions(n_worst)
    figures = [charts.score_histograms(cmp), charts.overlap_histogram(cmp)]
    if len(cmp.deltas):
        figures.insert(0, charts.metric_deltas(cmp, primary=primary))
    if len(worst):
        figures.append(charts.rank_shift(cmp, str(worst["query_id"].iloc[0]), k=k))
    plots = [_figure_html(fig, first=i == 0) for i, fig in enumerate(figures)]
    parts = [
        f"<h1>Comparison {_e(cmp.id)}</h1>",
        f"<p>{_e(m.baseline_label)} <small>({_e(m.baseline_column)})</small> → {_e(m.candidate_label)} "
        f"<small>({_e(m.candidate_column)})</small> on eval set <b>{_e(m.eval_set)}</b>, table "
        f"<b>{_e(m.table)}</b> version {m.table_version}. {m.n_queries} queries: {m.n_judged} judged, "
        f"{m.n_unjudged} without judgements (excluded from labelled metrics, included in rank shifts).</p>",
        f'<p class="summary">{_e(cmp.summary)}</p>',
        *[f'<p class="warn">⚠ {_e(w)}</p>' for w in m.warnings],
    ]
    if gate is not None:
        checks = "".join(f"<li>{_MARK[c.outcome]} {_e(c.detail)}</li>" for c in gate.checks)
        parts += [f"<h2>Gate: {_e(gate.verdict)}</h2>", f"<p>{_e(gate.summary)}</p>", f"<ul>{checks}</ul>"]
    if len(cmp.deltas):
        parts += [
            "<h2>Metrics</h2>",
            f"<p><small>{_e(_STATS_NOTE.format(primary=primary))}.</small></p>",
            _html_table(_delta_view(cmp.deltas, primary).reset_index()),
            plots.pop(0),
        ]
    if not cmp.segments.empty:
        parts += [
            f"<h2>Segments ({_e(m.segment_source)})</h2>",
            f'<p class="summary">{_e(describe_segments(cmp))}</p>',
            f"<p><small>{_e(_SEGMENTS_NOTE)}.</small></p>",
            _html_table(segment_view(cmp)),
        ]
    parts += ["<h2>Similarity scores</h2>", plots.pop(0)]
    parts += [
        f"<p>Two-sample KS distance {number(cmp.ks.statistic)} ({p_text(cmp.ks.p)}). Threshold translation "
        "(quantile mapping: the new cut-off keeps the same share of top-k results):</p>",
        _html_table(meaningful_thresholds(cmp.thresholds)),
        "<h2>Rank shifts</h2>",
        _html_table(pd.DataFrame([rank_shift_means(cmp)])),
        plots.pop(0),
    ]
    if len(worst):
        parts += ["<h2>Worst regressions</h2>", _html_table(worst), plots.pop(0)]
        parts += [_side_by_side(cmp, str(qid), k) for qid in worst["query_id"]]
    parts.append(f"<p>Migration runbook: <code>{_e(runbook_command(cmp))}</code></p>")
    parts.append(_manifest_html(cmp))
    title = f"Comparison {_e(cmp.id)}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _figure_html(fig: Any, *, first: bool) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=first, config={"displaylogo": False})


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f'<th class="text">{_e(c)}</th>' for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(_td(v, c) for c, v in zip(frame.columns, row, strict=True)) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(value: object, column: object = None) -> str:
    css = ' class="text"' if isinstance(value, str) else ""
    return f"<td{css}>{_e(_fmt(value, column=column))}</td>"


def _side_by_side(cmp: Comparison, query_id: str, k: int | None) -> str:
    """Both top-k lists of one query next to each other, with status and grade."""
    frame = cmp.drilldown(query_id, k=k)
    k = k or cmp.manifest.shift_k
    lists = []
    for side in SIDES:
        rank = f"{side}_rank"
        top = frame[frame[rank].notna() & (frame[rank] <= k)].sort_values(rank)
        rows = "".join(_list_row(row, side) for row in top.itertuples(index=False))
        head = "<tr><th>rank</th><th class='text'>document</th><th>grade</th><th>score</th></tr>"
        lists.append(f"<div><h4>{side}</h4><table>{head}{rows}</table></div>")
    return f'<h3>{_e(query_id)}: {_e(cmp.query_text(query_id))}</h3><div class="side">{"".join(lists)}</div>'


def _list_row(row: Any, side: str) -> str:
    rank, score = getattr(row, f"{side}_rank"), getattr(row, f"{side}_score")
    relevant = not pd.isna(row.grade) and row.grade > 0
    label = f"{_e(row.doc_id)} <small>{_e(row.title)}</small> <small>[{_e(_movement(row))}]</small>"
    css = f"{_e(row.status)}{' rel' if relevant else ''}"
    return (
        f'<tr class="{css}"><td>{int(rank)}</td><td class="text">{label}</td>'
        f"<td>{_e(_fmt(row.grade))}</td><td>{score:.3f}</td></tr>"
    )


def _movement(row: Any) -> str:
    """``kept ▲3``, ``entered from 11`` / ``from beyond``, ``left → 53`` / ``→ beyond``."""
    if row.status == "entered":
        return f"entered from {'beyond' if pd.isna(row.baseline_rank) else int(row.baseline_rank)}"
    if row.status == "left":
        return f"left → {'beyond' if pd.isna(row.candidate_rank) else int(row.candidate_rank)}"
    delta = int(row.delta_rank)
    return "kept" if delta == 0 else f"kept {'▲' if delta > 0 else '▼'}{abs(delta)}"


def _manifest_html(cmp: Comparison) -> str:
    m = asdict(cmp.manifest)
    rows = "".join(
        f'<tr><th class="text">{_e(key)}</th><td class="text"><code>{_e(json.dumps(value))}</code></td></tr>'
        for key, value in m.items()
    )
    return f"<h2>Manifest</h2><table>{rows}</table>"


# --- files ---------------------------------------------------------------------------------


def write_report(
    cmp: Comparison,
    path: str | Path,
    *,
    format: ReportFormat | None = None,
    primary: str = DEFAULT_PRIMARY,
    gate: GateVerdict | None = None,
) -> Path:
    """Write a comparison as HTML, Markdown, JSON or CSV (default: from the file suffix)."""
    path = Path(path)
    chosen = format or path.suffix.lstrip(".").lower()
    write_output(path, render_report(cmp, format=chosen, primary=primary, gate=gate))  # type: ignore[arg-type]
    return path


def render_report(
    cmp: Comparison, *, format: ReportFormat, primary: str = DEFAULT_PRIMARY, gate: GateVerdict | None = None
) -> str:
    """The report of ``cmp`` in ``format``; ``gate`` (the verdict) goes into HTML, Markdown and JSON.

    CSV is one row per query, with no place for a verdict. The CLI and the app both reach this
    through :func:`workbench.production.report.comparison_report`, which adds the workspace's gate.
    """
    if format not in FORMATS:
        raise InvalidArgumentError(f"report format {format!r} is not one of {', '.join(FORMATS)}")
    if format == "html":
        return render_html(cmp, primary=primary, gate=gate)
    if format == "md":
        return render_markdown(cmp, primary=primary, gate=gate)
    if format == "json":
        return render_json(cmp, gate=gate)
    return render_csv(cmp)


def write_output(path: Path, text: str) -> None:
    """Write ``text`` to the file ``path`` (whole: via a temporary file and a rename).

    Raises:
        InvalidArgumentError: ``path`` is a folder, or it cannot be written (read-only, no
            permission, a file where a folder is needed); nothing is written.
    """
    if path.is_dir():
        raise InvalidArgumentError(
            f"output {str(path)!r} is a folder; give a file name, e.g. {str(path / 'report.html')!r}"
        )
    aside = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        aside.write_text(text, encoding="utf-8")
        aside.replace(path)
    except OSError as exc:
        if aside.parent.is_dir():
            aside.unlink(missing_ok=True)
        raise InvalidArgumentError(
            f"cannot write {str(path)!r}: {exc.strerror or exc}; give a writable file path"
        ) from exc


def write_trec_run(rankings: pd.DataFrame, path: str | Path, *, run_tag: str) -> int:
    """Write ``query_id, rank, doc_id, score`` rows as a TREC run file; returns the line count.

    Raises:
        DataError: an id or the tag contains whitespace (the format is space-separated).
    """
    ordered = rankings.sort_values(["query_id", "rank"])
    _check_trec_ids("query id", ordered["query_id"].unique())
    _check_trec_ids("document id", ordered["doc_id"].unique())
    if not run_tag or _WHITESPACE.search(run_tag):
        raise DataError(f"run tag {run_tag!r} must be non-empty and contain no whitespace")
    lines = [
        f"{q} Q0 {d} {r} {s!r} {run_tag}\n"
        for q, d, r, s in zip(
            ordered["query_id"], ordered["doc_id"], ordered["rank"], ordered["score"], strict=True
        )
    ]
    write_output(Path(path), "".join(lines))
    return len(lines)


def _check_trec_ids(name: str, values: Iterable[object]) -> None:
    """Refuse an id a TREC file cannot carry: ``trec_eval`` splits its lines on whitespace."""
    bad = next((v for v in values if _WHITESPACE.search(str(v))), None)
    if bad is not None:
        raise DataError(
            f"{name} {bad!r} contains whitespace: it cannot be written as a TREC run (trec_eval "
            "splits lines on whitespace); nothing written"
        )


@dataclass(frozen=True)
class RunExport:
    """What :func:`export_run` wrote."""

    path: str
    table: str
    table_version: int
    column: str
    eval_set: str
    queries: int
    lines: int
    warnings: list[str]

    @property
    def message(self) -> str:
        return (
            f"wrote {self.lines} lines for {self.queries} queries ({self.column} on {self.table} "
            f"v{self.table_version}, eval set {self.eval_set}) to {self.path}"
        )


def export_run(
    ws: Workspace,
    *,
    column: str,
    eval_set: str,
    out: str | Path,
    table: str | None = None,
    k: int = 1000,
    embedder: Embedder | None = None,
    run_tag: str | None = None,
    allow_stale: bool = False,
    on_progress: ProgressFn | None = None,
) -> RunExport:
    """Search every query of ``eval_set`` against ``column`` and write a TREC run file.

    Queries are encoded by the column's own pinned model (``embedder`` if given, verified
    against the pin). ``trec_eval -m all_trec QRELS RUN`` then reproduces our metrics.

    Raises:
        NotFoundError, InvalidArgumentError, StaleColumnError, MixedIndexError, DataError: The
            message names the input at fault.
    """
    k = positive_int(k)
    es = load_eval_set(ws, eval_set)
    _check_trec_ids("query id", es.queries)  # before the search, which may take long
    tbl = ws.table(table or es.table)
    col = ws.resolve_column(tbl, column)
    warnings = check_fresh(tbl, [col], allow_stale=allow_stale)
    loaded = embedder_for(col, {col.name: embedder} if embedder is not None else None)
    result = retrieve(tbl, col, loaded, es.queries, k=k, on_progress=on_progress)
    lines = write_trec_run(result.rankings, out, run_tag=run_tag or col.name)
    return RunExport(
        str(out), tbl.name, int(tbl.version), col.name, es.name, len(es.queries), lines, warnings
    )
