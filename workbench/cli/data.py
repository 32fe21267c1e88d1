"""Data commands: demo, ingest, embed, status (thin over the library)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, cast

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
    table_name,
    workspace,
)

READ_BAR_BYTES = 32 * 2**20
"""Corpus files at least this large show a reading progress bar."""

__all__ = ["demo", "embed", "ingest", "register", "status"]

IngestTableOpt = Annotated[
    str | None,
    typer.Option(
        "--table", "-t", help="Corpus table to create or add to (default: the folder or file name)."
    ),
]


def register(app: typer.Typer) -> None:
    """Add ``demo``, ``ingest``, ``embed`` and ``status`` to ``app``."""
    app.command("demo")(demo)
    app.command("ingest")(ingest)
    app.command("embed")(embed)
    app.command("status")(status)


def demo(workspace_uri: WorkspaceOpt = DEFAULT, config: ConfigOpt = None) -> None:
    """Build the demo workspace (project corpus, two real models), resuming if interrupted."""
    from workbench import build_demo

    with handled(), ExitStack() as bars:
        ws = workspace(workspace_uri, config, create=True)
        for line in build_demo(ws, step=lambda description: bars.enter_context(progress_bar(description))):
            echo(line)
        echo(f"demo workspace ready at {ws.uri}")


def ingest(
    path: Annotated[Path, typer.Argument(help="A BEIR folder, or a corpus .jsonl/.csv/.parquet.")],
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: IngestTableOpt = None,
    eval_set: Annotated[str | None, typer.Option(help="Eval set name (default: folder name).")] = None,
    id_field: Annotated[str | None, typer.Option(help="Id column (default: _id or id).")] = None,
    text_field: Annotated[str, typer.Option(help="Text column.")] = "text",
    title_field: Annotated[str, typer.Option(help="Title column ('' for none).")] = "title",
    split: Annotated[str, typer.Option(help="BEIR qrels split to read.")] = "test",
    on_empty: Annotated[
        str,
        typer.Option(
            help="Documents with empty text: error (refuse), skip (leave out, with their "
            "judgements; counted), title (embed the title instead)."
        ),
    ] = "error",
    as_json: JsonOpt = False,
) -> None:
    """Read and validate a corpus (+ queries and qrels), then write it. Bad input writes nothing."""
    from workbench import ingest as run_ingest
    from workbench.corpus.readers import check_empty_policy
    from workbench.corpus.stream import Fields

    lean_memory()
    with handled():
        policy = check_empty_policy(on_empty)
        ws = workspace(workspace_uri, config, create=True)
        fields = Fields(id=id_field, text=text_field, title=title_field or None)
        with progress_bar("reading", unit="B", scale=True) as read, progress_bar("dual-write") as bar:

            def read_large(done: int, total: int) -> None:
                if total >= READ_BAR_BYTES:  # a small file is read in a blink: no bar
                    read(done, total)

            result = run_ingest(
                ws,
                path,
                table=table,
                eval_set=eval_set,
                fields=fields,
                split=split,
                on_empty=policy,
                on_progress=bar,
                on_read=read_large,
            )
        emit_json(asdict(result)) if as_json else echo(result.message)


def embed(
    model: Annotated[str, typer.Option("--model", "-m", help="Model alias (see `workbench models`).")],
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per checkpoint (local) or batch (ray).")] = 256,
    engine: Annotated[str, typer.Option(help="local (this process) or ray (Ray workers).")] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(envvar="RAY_ADDRESS", help="Ray cluster to join (default: start Ray on this machine)."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Ray engine: model-holding workers.")] = 2,
    cpus_per_worker: Annotated[float, typer.Option(min=0.01, help="Ray engine: CPUs per worker.")] = 1.0,
    gpus_per_worker: Annotated[float, typer.Option(min=0, help="Ray engine: GPUs per worker.")] = 0.0,
    progressive: Annotated[
        bool,
        typer.Option(
            "--progressive",
            help="Fill the column batch by batch, one version each (rows not embedded yet stay null; "
            "serve it with transition search). Without the flag, a progressive column is completed.",
        ),
    ] = False,
    priority: Annotated[
        str, typer.Option(help="--progressive: which rows first: random, new-first, query-log.")
    ] = "random",
    budget: Annotated[
        int | None, typer.Option("--budget", min=0, help="--progressive: stop after this many rows.")
    ] = None,
    budget_usd: Annotated[
        float | None,
        typer.Option(
            "--budget-usd",
            min=0,
            help="--progressive: stop before this estimated cost (priced served model).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add the model's vector column: streamed, resumable, committed in one version (or progressively)."""
    from workbench import embed as run_embed
    from workbench.embedding.run import ENGINES, Engine
    from workbench.errors import InvalidArgumentError

    with handled():
        if engine not in ENGINES:
            raise InvalidArgumentError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
        _check_progressive_options(progressive, priority, budget, budget_usd, engine)
        ws = workspace(workspace_uri, config)
        name = table_name(ws, table, column=model)
        ref = ws.model(model)
        embedder = None
        if ref.is_served:  # a client is cheap; its usage feeds the progress line
            from workbench import load_embedder

            embedder = load_embedder(ref)
        if progressive:
            from workbench.embedding.progressive import Priority, embed_progressive

            with progress_bar(
                f"embedding {name} with {model} (progressive, {priority})", usage_of=embedder
            ) as bar:
                done = embed_progressive(
                    ws,
                    name,
                    ref,
                    embedder=embedder,
                    priority=cast(Priority, priority),
                    budget_rows=budget,
                    budget_usd=budget_usd,
                    batch_size=batch_size,
                    on_progress=bar,
                )
            emit_json({**asdict(done), "coverage": done.coverage}) if as_json else echo(done.message)
            return
        options = None
        if engine == "ray":
            from workbench import RayOptions
            from workbench.embedding.ray_engine import require_ray

            require_ray()
            options = RayOptions(
                address=ray_address,
                workers=workers,
                cpus_per_worker=cpus_per_worker,
                gpus_per_worker=gpus_per_worker,
            )
        with progress_bar(f"embedding {name} with {model} ({engine})", usage_of=embedder) as bar:
            result = run_embed(
                ws,
                name,
                ref,
                embedder=embedder,
                batch_size=batch_size,
                on_progress=bar,
                engine=cast(Engine, engine),
                ray=options,
                on_fragment=lambda done, total: echo(f"fragments {done}/{total}", err=True),
            )
        emit_json(asdict(result)) if as_json else echo(result.message)


def _check_progressive_options(
    progressive: bool, priority: str, budget: int | None, budget_usd: float | None, engine: str
) -> None:
    """Refuse progressive options without --progressive, or with the Ray engine."""
    from workbench.embedding.progressive import PRIORITIES
    from workbench.errors import InvalidArgumentError

    if priority not in PRIORITIES:
        raise InvalidArgumentError(f"unknown --priority {priority!r}; priorities: {', '.join(PRIORITIES)}")
    if not progressive and (priority != "random" or budget is not None or budget_usd is not None):
        raise InvalidArgumentError("--priority, --budget and --budget-usd need --progressive")
    if progressive and engine != "local":
        raise InvalidArgumentError("--progressive runs on the local engine only; drop --engine ray")
    if budget is not None and budget_usd is not None:
        raise InvalidArgumentError("give --budget ROWS or --budget-usd X, not both")


def status(workspace_uri: WorkspaceOpt = DEFAULT, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Tables, rows, vector columns with their pins and ANN indexes, versions, tags, stale/missing rows."""
    from workbench import workspace_status

    with handled():
        data = workspace_status(workspace(workspace_uri, config))
    if as_json:
        emit_json(data)
        return
    echo(f"workspace {data['workspace']}")
    for table in data["tables"]:
        echo(
            f"\ntable {table['name']}: {table['rows']} rows, version {table['version']} "
            f"({table['n_versions']} versions)"
        )
        for col in table["columns"]:
            mark = " [production]" if col["production"] else ""
            health = f"missing {col['missing_rows']}, stale {col['stale_rows']}"
            if col.get("progressive"):
                share = col["embedded_rows"] / table["rows"] if table["rows"] else 1.0
                health = (
                    f"progressive: {col['embedded_rows']} of {table['rows']} rows embedded "
                    f"({100 * share:.1f}%), stale {col['stale_rows']}"
                )
            if col["index"]:
                health += f"; index {col['index']}, {col['unindexed_rows']} rows unindexed"
            else:
                health += "; no index (exact search)"
            echo(
                f"  {col['name']}{mark}\n    {col['model']}@{col['revision']} "
                f"sha256:{col['fingerprint'][:16]}… dim {col['dim']}; {health}"
            )
        for tag, version in table["tags"].items():
            echo(f"  tag {tag} → v{version}")
        for note in table.get("unfinished", []):
            echo(f"  unfinished: {note}", fg=typer.colors.YELLOW)
    for es in data["eval_sets"]:
        version = int(es.get("version", 1))
        earlier = f" (earlier: --eval-set {es['name']}@1 … @{version - 1})" if version > 2 else ""
        earlier = f" (earlier: --eval-set {es['name']}@1)" if version == 2 else earlier
        echo(
            f"\neval set {es['name']} (table {es['table']}): {es['n_queries']} queries, "
            f"{es['n_judged']} judged, version {version}{earlier}"
        )
