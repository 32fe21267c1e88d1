"""CLI commands for deciding before migrating: ``leaderboard``, ``plan``, ``matryoshka``, ``adapter``.

Thin over :mod:`workbench.decide.leaderboard`, :mod:`workbench.decide.plan`,
:mod:`workbench.decide.matryoshka` and :mod:`workbench.decide.adapters`: parse, call, print,
exit code. Bad input is one line on stderr, exit code 2, and nothing is written.
"""

from __future__ import annotations

import math
from dataclasses import asdict
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
    progress_bar,
    table_name,
    workspace,
)
from workbench.errors import InvalidArgumentError
from workbench.formatting import interval, number, p_text

if TYPE_CHECKING:
    from workbench import Workspace

__all__ = [
    "adapter_app",
    "adapter_evaluate_cmd",
    "adapter_fit_cmd",
    "adapter_list_cmd",
    "adapter_search_cmd",
    "leaderboard_cmd",
    "matryoshka_app",
    "matryoshka_pin_cmd",
    "matryoshka_sweep_cmd",
    "plan_cmd",
    "register",
    "watch_candidates_cmd",
]

EvalSetReq = Annotated[
    str, typer.Option("--eval-set", "-e", help="A labelled eval set, or NAME@VERSION for a recorded version.")
]
MetricsOpt = Annotated[str, typer.Option("--metrics", help="Metrics, comma-separated; the first decides.")]
PriceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--price", help="ALIAS=USD per 1M tokens (repeatable); overrides [prices] in workbench.toml."
    ),
]

matryoshka_app = typer.Typer(
    help="Matryoshka: sweep truncated dimensions, pin a truncation.", no_args_is_help=True
)
adapter_app = typer.Typer(
    help="Drift-Adapters: fit, evaluate, list, search through one.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``leaderboard``, ``plan`` and the ``matryoshka`` and ``adapter`` groups to ``app``."""
    app.command("leaderboard")(leaderboard_cmd)
    app.command("plan")(plan_cmd)
    app.command("watch-candidates")(watch_candidates_cmd)
    app.add_typer(matryoshka_app, name="matryoshka")
    app.add_typer(adapter_app, name="adapter")


def leaderboard_cmd(
    eval_set: EvalSetReq,
    models: Annotated[
        str | None, typer.Option(help="Candidates, comma-separated (default: every column).")
    ] = None,
    baseline: Annotated[str | None, typer.Option(help="The current model (default: production).")] = None,
    metrics: MetricsOpt = "ndcg@10,recall@100",
    min_gain: Annotated[float, typer.Option(help="Smallest gain worth migrating for.")] = 0.01,
    alpha: Annotated[float, typer.Option(help="Family-wise significance level (Holm).")] = 0.05,
    price: PriceOpt = None,
    throughput_sample: Annotated[int, typer.Option(help="Documents to time each model on (0: skip).")] = 64,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rank candidate models on your eval set: metrics with CIs, Holm-corrected pairs, cost, advice."""
    from workbench import leaderboard

    with handled():
        ws = workspace(workspace_uri, config)
        candidates = _split(models) if models else None
        with progress_bar("evaluating", unit="models") as bar:
            board = leaderboard(
                ws,
                eval_set=eval_set,
                models=candidates,
                table=table,
                metrics=_split(metrics),
                baseline=baseline or _production_label(ws, eval_set, table, candidates),
                min_gain=min_gain,
                alpha=alpha,
                prices=_prices(ws, price),
                throughput_sample=throughput_sample,
                on_progress=bar,
            )
    if as_json:
        emit_json(
            {
                **{k: v for k, v in asdict(board).items() if k not in ("rows", "pairs")},
                "rows": _records(board.rows),
                "pairs": _records(board.pairs),
            }
        )
        return
    echo(
        f"leaderboard on {board.eval_set} ({board.n_judged} judged queries), "
        f"table {board.table} v{board.table_version}"
    )
    for row in board.rows.to_dict("records"):
        quality = "  ".join(
            f"{m} {row[m]:.3f} [{row[f'{m}_ci_low']:.3f}, {row[f'{m}_ci_high']:.3f}]" for m in _split(metrics)
        )
        cost = "—" if math.isnan(row["price_per_million"]) else f"${row['price_per_million']:g}/1M tok"
        speed = "—" if math.isnan(row["embed_docs_per_s"]) else f"{row['embed_docs_per_s']:.0f} docs/s"
        echo(
            f"  {row['label']:<16} {quality}  {row['bytes_per_vector']} B/vec  "
            f"{row['query_ms']:.1f} ms/query  {speed}  {cost}"
        )
    for pair in board.pairs.to_dict("records"):
        mark = "*" if pair["significant"] else " "
        echo(
            f"  {mark} {pair['b']} − {pair['a']} {pair['metric']}: {number(pair['delta'], signed=True)} "
            f"{interval(pair['ci_low'], pair['ci_high'])} {p_text(pair['p'])} Holm {p_text(pair['p_holm'])}"
        )
    for warning in board.warnings:
        echo(f"warning: {warning}")
    echo(board.recommendation)


def plan_cmd(
    model: Annotated[str, typer.Option("--model", "-m", help="Model alias to estimate.")],
    sample: Annotated[int, typer.Option(help="Documents to time.")] = 128,
    workers: Annotated[int, typer.Option(help="Parallel workers the run would use.")] = 1,
    index: Annotated[str, typer.Option(help="Index to budget: none, ivf_pq, ivf_hnsw_sq.")] = "none",
    price: Annotated[float | None, typer.Option(help="USD per 1M tokens (default: [prices]).")] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Estimate an embedding run before doing it: rows, tokens, time, money, storage. Writes nothing."""
    from workbench import plan_embed

    with handled():
        ws = workspace(workspace_uri, config)
        ref = ws.model(model)
        result = plan_embed(
            ws,
            table_name(ws, table),
            ref,
            sample=sample,
            workers=workers,
            index=index,  # type: ignore[arg-type]  # checked by plan_embed
            price_per_million=price if price is not None else ws.config.price(model),
        )
    if as_json:
        emit_json({**asdict(result), "storage_bytes": result.storage_bytes, "message": result.message})
    else:
        echo(result.message)


@matryoshka_app.command("sweep")
def matryoshka_sweep_cmd(
    model: Annotated[str, typer.Option("--model", "-m", help="Model alias or vector column to sweep.")],
    eval_set: EvalSetReq,
    dims: Annotated[str, typer.Option(help="Truncated dimensions, comma-separated.")] = "32,64,128,256",
    metrics: MetricsOpt = "ndcg@10,recall@100",
    html: Annotated[str | None, typer.Option(help="Also write the curve as an HTML chart here.")] = None,
    via: Annotated[
        str,
        typer.Option(
            help="stored: truncate stored vectors; api (served models): ask the server for `dimensions` "
            "(falls back to client-side truncation, with a note, if the server ignores it)."
        ),
    ] = "stored",
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Quality vs bytes per vector at truncated dimensions (stored vectors cut and re-normalised)."""
    from workbench import matryoshka_sweep
    from workbench.decide.matryoshka import matryoshka_figure

    with handled():
        ws = workspace(workspace_uri, config)
        curve = matryoshka_sweep(
            ws,
            column=model,
            eval_set=eval_set,
            dims=_ints(dims),
            table=table,
            metrics=_split(metrics),
            via=via,  # type: ignore[arg-type]  # checked by matryoshka_sweep
        )
    if html:
        matryoshka_figure(curve).write_html(html, include_plotlyjs=True)
    if as_json:
        emit_json(
            {
                "column": curve.column,
                "eval_set": curve.eval_set,
                "points": _records(curve.points),
                "notes": list(curve.notes),
            }
        )
        return
    head = curve.metrics[0]
    echo(f"{curve.column} on {curve.eval_set}")
    for p in curve.points.to_dict("records"):
        echo(
            f"  d={p['dim']:<5} {p['bytes_per_vector']:>5} B  {head} {p[head]:.3f} "
            f"[{p[f'{head}_ci_low']:.3f}, {p[f'{head}_ci_high']:.3f}]  vs full "
            f"{number(p[f'{head}_delta'], signed=True)} ({p_text(p[f'{head}_p'])})  "
            f"retained {p['retained']:.0%}  [{p['source']}]"
        )
    for note in curve.notes:
        echo(f"note: {note}")


@matryoshka_app.command("pin")
def matryoshka_pin_cmd(
    model: Annotated[str, typer.Argument(help="Alias of the full model.")],
    dim: Annotated[int, typer.Option(help="Dimensions to keep.")],
    alias: Annotated[str | None, typer.Option("--as", help="New alias (default: MODEL-dDIM).")] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
) -> None:
    """Pin a truncation of a model as a model of its own (own alias, own column); embed it after."""
    from workbench import truncated_pin
    from workbench.models.dimensions import require_served_truncation

    with handled():
        ws = workspace(workspace_uri, config)
        full = ws.model(model)
        ref = truncated_pin(full, dim)
        if full.is_served:  # the server must honour `dimensions` for the pin to be embeddable
            require_served_truncation(full, dim)
        name = alias or f"{model}-d{dim}"
        ws.add_model(name, ref)
    echo(f"pinned {name} = {ref.pin} truncated to {dim} → column {ref.column}")


@adapter_app.command("fit")
def adapter_fit_cmd(
    source: Annotated[str, typer.Option("--new", help="The new model (queries come from it).")],
    target: Annotated[str, typer.Option("--old", help="The old model (its column is searched).")],
    kind: Annotated[str, typer.Option(help="procrustes, affine or mlp.")] = "procrustes",
    sample: Annotated[int, typer.Option(help="Documents to fit on at most.")] = 20_000,
    rank: Annotated[int, typer.Option(help="Rank of the affine map.")] = 64,
    epochs: Annotated[int, typer.Option(help="Epochs of the MLP.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed of the sample and the MLP.")] = 0,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit a Drift-Adapter (new → old space) on documents embedded by both, and store it."""
    from workbench import fit_adapter

    with handled():
        ws = workspace(workspace_uri, config)
        adapter = fit_adapter(
            ws,
            source=source,
            target=target,
            kind=kind,  # type: ignore[arg-type]  # checked by fit_map
            table=table,
            sample=sample,
            rank=rank,
            epochs=epochs,
            seed=seed,
        )
    if as_json:
        emit_json(adapter.manifest())
        return
    echo(
        f"stored adapter {adapter.id} (v{adapter.version}): "
        f"{adapter.source_column} → {adapter.target_column}, "
        f"fitted on {adapter.n_train} documents; mean cosine train {adapter.fit_cosine['train']:.3f}, "
        f"held out {adapter.fit_cosine['heldout']:.3f}"
    )


@adapter_app.command("evaluate")
def adapter_evaluate_cmd(
    adapter_id: Annotated[str, typer.Argument(help="Adapter id (see `workbench adapter list`).")],
    eval_set: EvalSetReq,
    metrics: MetricsOpt = "ndcg@10,recall@100",
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """old→old, adapted-new→old and new→new on an eval set: recovery, gap closed, top-k agreement."""
    from workbench import evaluate_adapter

    with handled():
        ws = workspace(workspace_uri, config)
        result = evaluate_adapter(ws, adapter_id, eval_set=eval_set, metrics=_split(metrics))
    if as_json:
        emit_json({
            "adapter": result.adapter_id, "kind": result.kind, "eval_set": result.eval_set,
            "rows": result.rows.reset_index(names="setting").to_dict("records"),
            "recovery": result.recovery, "gap_closed": result.gap_closed,
            "agreement": result.agreement, "agreement_k": result.agreement_k,
        })  # fmt: skip
        return
    for setting, row in result.rows.iterrows():
        values = "  ".join(
            f"{m} {row[m]:.3f} [{row[f'{m}_ci_low']:.3f}, {row[f'{m}_ci_high']:.3f}]" for m in result.metrics
        )
        echo(f"  {setting:<12} {values}")
    echo(result.summary)


@adapter_app.command("list")
def adapter_list_cmd(
    workspace_uri: WorkspaceOpt = DEFAULT, config: ConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """The stored adapters: id, version, columns, fingerprint."""
    from workbench.decide.adapters.artifact import list_adapters

    with handled():
        rows = list_adapters(workspace(workspace_uri, config))
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        echo(
            f"{row['id']} v{row['version']} {row['kind']}: {row['source_column']} → {row['target_column']} "
            f"({row['table']}, {row['created_at']})"
        )


@adapter_app.command("search")
def adapter_search_cmd(
    adapter_id: Annotated[str, typer.Argument(help="Adapter id.")],
    query: Annotated[str, typer.Argument(help="The query text.")],
    k: Annotated[int, typer.Option(help="Results.")] = 10,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search production with a new-model query through an adapter (refuses if either pin changed).

    The same as ``workbench search QUERY --adapter ID``: the production index in adapter mode.
    """
    from workbench import search

    with handled():
        result = search(workspace(workspace_uri, config), query, k=k, adapter=adapter_id)
    if as_json:
        emit_json(result.to_dict())
        return
    echo(f"{result.table} v{result.version} {result.column} ← {result.model}")
    for hit in result.hits:
        echo(f"  {hit.rank:>3}. {hit.score:.3f} {hit.id} {hit.title[:70]}")


def watch_candidates_cmd(
    eval_set: Annotated[
        str | None,
        typer.Option("--eval-set", "-e", help="Eval set (default: monitor.toml's, else the only one)."),
    ] = None,
    candidates: Annotated[
        str | None,
        typer.Option(
            help="Candidates, comma-separated (default: monitor.toml's watch_candidates, else all)."
        ),
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="Deciding metric (default: watch_metric, ndcg@10).")
    ] = None,
    margin: Annotated[
        float | None, typer.Option(min=0, help="Alarm above this gain (default: watch_margin, 0).")
    ] = None,
    store: Annotated[bool, typer.Option(help="Record the watch in the workspace.")] = True,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-evaluate the candidate models against production now: exit 1 when one clearly beats it.

    Re-runs the leaderboard of production and the candidates already embedded on the current eval
    set. An alarm names each candidate that beats production by more than the margin with a 95%
    interval excluding 0, with its migration estimate (`workbench plan`); otherwise "stay put".
    Settings default to monitor.toml (watch_candidates, watch_metric, watch_margin); a monitoring
    pass runs the same watch every watch_every.
    """
    from workbench.cli.compare import default_eval_set
    from workbench.decide.watch import watch_candidates
    from workbench.monitoring.config import workspace_monitor_config

    with handled():
        ws = workspace(workspace_uri, config)
        name = table_name(ws, table)
        settings = workspace_monitor_config(ws)
        chosen = _split(candidates) if candidates else list(settings.watch_candidates) or None
        watch = watch_candidates(
            ws,
            name,
            eval_set=eval_set or settings.eval_set or default_eval_set(ws, name),
            candidates=chosen,
            metric=metric or settings.watch_metric,
            margin=settings.watch_margin if margin is None else margin,
            store=store,
        )
    if as_json:
        emit_json(watch.to_dict())
    else:
        echo(f"candidate watch of {watch.table} on {watch.eval_set} (production: {watch.production})")
        for row in watch.rows:
            mark = "BEATS" if row["beats"] else "     "
            echo(
                f"  {mark} {row['label']:<16} {watch.metric} {row['delta']:+.3f} "
                f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] Holm p={row['p_holm']:.4f}"
            )
            if row.get("plan"):
                echo(f"        migration: {row['plan']}")
        echo(("ALARM: " if watch.alarmed else "") + watch.summary)
    if watch.alarmed:
        raise typer.Exit(1)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _ints(text: str) -> list[int]:
    try:
        return [int(part) for part in _split(text)]
    except ValueError as exc:
        raise InvalidArgumentError(
            f"expected comma-separated integers such as 32,64,128; got {text!r}"
        ) from exc


def _prices(ws: Workspace, given: list[str] | None) -> dict[str, float]:
    prices = dict(ws.config.prices)
    for item in given or []:
        alias, sep, value = item.partition("=")
        try:
            prices[alias.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or prices[alias.strip()] < 0:
            raise InvalidArgumentError(
                f"--price wants ALIAS=USD_PER_1M_TOKENS with a number >= 0, got {item!r}"
            )
    return prices


def _production_label(
    ws: Workspace, eval_set: str, table: str | None, candidates: list[str] | None
) -> str | None:
    """The candidate label of the production column, if production is one of the candidates."""
    from workbench import load_eval_set
    from workbench.store.production import production_column

    handle = ws.table(table or load_eval_set(ws, eval_set).table)
    active = production_column(handle)
    if active is None:
        return None
    aliases = {ref.column: alias for alias, ref in sorted(ws.config.all_models().items())}
    for label in candidates or [aliases.get(c.name, c.name) for c in ws.vector_columns(handle)]:
        if ws.resolve_column(handle, label).name == active:
            return label
    return None


def _records(frame: Any) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
