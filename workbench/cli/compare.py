"""CLI commands of the comparison area: ``compare``, ``report``, ``comparisons``, ``export-run``.

Thin over :mod:`workbench.comparison.run` and :mod:`workbench.comparison.report`: parse, call, print,
exit code.
A ``WorkbenchError`` (bad column, eval set, k, stale column, ...) is one line on stderr and
exit code 2, and nothing is written.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.cli.common import (
    DEFAULT,
    ConfigOpt,
    JsonOpt,
    TableOpt,
    WorkspaceOpt,
    echo,
    emit_json,
    handled,
    lean_memory,
    progress_bar,
    workspace,
)
from workbench.errors import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from workbench import Comparison, Workspace

__all__ = [
    "AllowStaleOpt",
    "EvalSetOpt",
    "compare_cmd",
    "comparisons_cmd",
    "default_eval_set",
    "export_run_cmd",
    "parse_ints",
    "register",
    "report_cmd",
    "summary_lines",
]

EvalSetOpt = Annotated[
    str | None,
    typer.Option(
        "--eval-set",
        "-e",
        help="Eval set, or NAME@VERSION for a recorded version (default: the only one for the table).",
    ),
]
AllowStaleOpt = Annotated[
    bool, typer.Option("--allow-stale", help="Go ahead with missing/stale rows (recorded as a warning).")
]


def register(app: typer.Typer) -> None:
    """Add ``compare``, ``report``, ``comparisons`` and ``export-run`` to ``app``."""
    app.command("compare")(compare_cmd)
    app.command("report")(report_cmd)
    app.command("comparisons")(comparisons_cmd)
    app.command("export-run")(export_run_cmd)


def compare_cmd(
    baseline: Annotated[str, typer.Option("--baseline", "-b", help="Current model alias or vector column.")],
    candidate: Annotated[str, typer.Option("--candidate", "-c", help="New model alias or vector column.")],
    eval_set: EvalSetOpt = None,
    k: Annotated[str, typer.Option("--k", help="Cut-offs, comma-separated.")] = "10,100",
    metrics: Annotated[
        str | None,
        typer.Option(help="Metrics, comma-separated (default: ndcg, recall, mrr, map, P, hit rate)."),
    ] = None,
    store: Annotated[bool, typer.Option("--store/--no-store", help="Save in the workspace.")] = True,
    allow_stale: AllowStaleOpt = False,
    index: Annotated[
        bool, typer.Option("--index/--no-index", help="Also measure each ANN index (recall, latency).")
    ] = True,
    segment_by: Annotated[
        str | None,
        typer.Option(
            "--segment-by",
            help="Segment keys, comma-separated: query metadata keys (language, topic, …) or the automatic "
            "length, baseline_score (default: every metadata key, else the automatic ones; '' for none).",
        ),
    ] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare two vector columns on an eval set; each query is encoded by each column's own model."""
    from workbench import compare
    from workbench.comparison.report import comparison_dict

    with handled():
        ws = workspace(workspace_uri, config)
        with progress_bar("comparing", unit="queries") as bar:
            result = compare(
                ws,
                baseline=baseline,
                candidate=candidate,
                eval_set=eval_set or default_eval_set(ws, table),
                table=table,
                k=parse_ints(k),
                metrics=_split(metrics) if metrics else None,
                on_progress=bar,
                store=store,
                allow_stale=allow_stale,
                index=index,
                segment_by=None if segment_by is None else _split(segment_by),
                # One malloc arena from the first scan on (0.42-0.56 GB less peak at 100k-1M rows,
                # BENCHMARKS.md), not before: encoding with it is 1.26-1.38x slower.
                before_scan=lean_memory,
            )
    if as_json:
        emit_json(comparison_dict(result, per_query=False))
        return
    for line in summary_lines(result, stored=store):
        echo(line)


def report_cmd(
    comparison_id: Annotated[str, typer.Argument(help="Comparison id (see `workbench comparisons`).")],
    format: Annotated[str, typer.Option("--format", "-f", help="html, md, json or csv.")] = "html",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file (default: <id>.<format>).")
    ] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
) -> None:
    """Export a stored comparison: HTML (self-contained), Markdown, JSON or per-query CSV."""
    from workbench import load_comparison
    from workbench.comparison.report import FORMATS

    with handled():
        if format not in FORMATS:
            raise InvalidArgumentError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
        from workbench.production.report import write_comparison_report

        ws = workspace(workspace_uri, config)
        result = load_comparison(ws, comparison_id)
        path = write_comparison_report(
            ws,
            result,
            out or Path(f"{result.id}.{format}"),
            format=format,  # type: ignore[arg-type]
        )
    echo(f"wrote {path}")


def comparisons_cmd(
    workspace_uri: WorkspaceOpt = DEFAULT, config: ConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """List the stored comparisons with their headline numbers."""
    from workbench import list_comparisons

    with handled():
        frame = list_comparisons(workspace(workspace_uri, config))
    if as_json:
        emit_json(frame.astype(object).where(frame.notna(), None).to_dict(orient="records"))
        return
    if frame.empty:
        echo("no comparisons yet; run `workbench compare --baseline A --candidate B`")
    for row in frame.itertuples(index=False):
        headline = "no labels" if row.headline_metric is None else _headline(row)
        echo(
            f"{row.id}  {row.created_at}  {row.table}: {row.baseline} → {row.candidate} "
            f"on {row.eval_set} ({row.n_judged}/{row.n_queries} judged)  {headline}"
        )


def export_run_cmd(
    column: Annotated[str, typer.Option("--column", "-c", help="Model alias or vector column.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="TREC run file to write.")],
    eval_set: EvalSetOpt = None,
    k: Annotated[int, typer.Option("--k", help="Documents per query.")] = 1000,
    run_tag: Annotated[str | None, typer.Option(help="Run tag (default: the column name).")] = None,
    allow_stale: AllowStaleOpt = False,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
) -> None:
    """Write a TREC run file (qid Q0 docid rank score tag) to check our numbers with trec_eval."""
    from workbench.comparison.report import export_run

    with handled():
        ws = workspace(workspace_uri, config)
        with progress_bar(f"searching {column}", unit="queries") as bar:
            result = export_run(
                ws,
                column=column,
                eval_set=eval_set or default_eval_set(ws, table),
                out=out,
                table=table,
                k=k,
                run_tag=run_tag,
                allow_stale=allow_stale,
                on_progress=bar,
            )
    echo(result.message)
    for warning in result.warnings:
        echo(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)


# --- helpers -------------------------------------------------------------------------------


def parse_ints(text: str) -> list[int]:
    """``"10,100"`` → ``[10, 100]``; anything else is an InvalidArgumentError."""
    try:
        return [int(part) for part in _split(text)]
    except ValueError:
        raise InvalidArgumentError(
            f"--k must be comma-separated integers such as 10,100; got {text!r}"
        ) from None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def default_eval_set(ws: Workspace, table: str | None) -> str:
    """The only eval set (for ``table`` if given), or an error listing the choices."""
    from workbench import list_eval_sets

    names = [str(e["name"]) for e in list_eval_sets(ws, table=table)]
    if len(names) == 1:
        return names[0]
    if not names:
        raise NotFoundError("no eval set in this workspace; ingest a BEIR folder with queries and qrels")
    raise InvalidArgumentError(f"several eval sets ({', '.join(names)}): choose one with --eval-set")


def summary_lines(result: Comparison, *, stored: bool) -> list[str]:
    """The human summary of a comparison: sentence, metric table, shifts, warnings, id."""
    from workbench.comparison.report import rank_shift_means
    from workbench.formatting import number, p_text, p_value

    m = result.manifest
    lines = [result.summary, ""]
    if len(result.deltas):
        from workbench.metrics.multiple import DEFAULT_PRIMARY, adjusted_p

        view = result.deltas[["baseline", "candidate", "delta", "ci_low", "ci_high", "p_permutation"]]
        view = view.assign(p_holm=adjusted_p(result.deltas))
        signed = {c: lambda x: number(x, signed=True) for c in ("delta", "ci_low", "ci_high")}
        text = view.rename(columns={"p_permutation": "p"}).to_string(
            float_format=number, formatters={**signed, "p": p_value, "p_holm": p_value}
        )
        lines += text.splitlines()
        lines.append(
            "interval: inverted sign-flip test (excludes 0 exactly when p < 0.05); p_holm: the gate's "
            f"primary metric ({DEFAULT_PRIMARY}) as is, the others Holm-adjusted"
        )
        lines.append("")
    lines += _segment_lines(result)
    shifts = rank_shift_means(result)
    lines.append("rank shifts (mean): " + ", ".join(f"{k} {v:.3f}" for k, v in shifts.items()))
    lines.append(f"score distributions: KS distance {number(result.ks.statistic)} ({p_text(result.ks.p)})")
    for side, e in m.index.items():
        lines.append(
            f"index ({side}) {e['index']}: recall@{e['k']} {e['recall']:.3f}, "
            f"p50 {e['latency_ms_p50']:.1f} ms / p95 {e['latency_ms_p95']:.1f} ms "
            f"(exact {e['exact_latency_ms_p50']:.1f} / {e['exact_latency_ms_p95']:.1f} ms), "
            f"{e['unindexed_rows']} rows unindexed"
        )
    lines += [f"warning: {w}" for w in m.warnings]
    lines.append(
        f"{m.n_queries} queries ({m.n_judged} judged, {m.n_unjudged} without judgements) on "
        f"{m.table} v{m.table_version}"
    )
    lines.append(f"stored as {result.id}" if stored else f"not stored (id would be {result.id})")
    return lines


def _segment_lines(result: Comparison) -> list[str]:
    """The headline metric per segment and the sentence on where the candidate loses."""
    from workbench.comparison.segments import describe_segments, segment_view

    if result.segments.empty:
        return []
    view = segment_view(result)[
        ["key", "segment", "n", "baseline", "candidate", "delta", "ci_low", "ci_high", "p (Holm)"]
    ]
    text = view.to_string(index=False, float_format="{:.3f}".format, formatters={"p (Holm)": "{:.2g}".format})
    metric = result.manifest.headline_metric
    source = result.manifest.segment_source
    return [
        f"{metric} per segment ({source}; p Holm-adjusted across segments):",
        *text.splitlines(),
        describe_segments(result),
        "",
    ]


def _headline(row: Any) -> str:
    if row.delta is None or (isinstance(row.delta, float) and math.isnan(row.delta)):
        return f"{row.headline_metric}: n/a"
    from workbench.formatting import interval, number, p_text

    delta = number(row.delta, signed=True)
    return f"{row.headline_metric} {delta} {interval(row.ci_low, row.ci_high)} {p_text(row.p_value)}"
