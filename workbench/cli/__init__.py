"""The ``workbench`` command line: thin over the library (parse, call, print, exit code).

Every command takes ``--workspace`` (env ``WORKBENCH_WORKSPACE``). A ``WorkbenchError``
becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import (
    DEFAULT,
    ConfigOpt,
    JsonOpt,
    TableOpt,
    WorkspaceOpt,
    emit_json,
    handled,
    progress_bar,
    table_name,
    workspace,
)

app = typer.Typer(
    name="workbench",
    help="Embedding migration workbench: pin models, embed side by side, compare, promote, roll back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="Pinned models: list, fingerprint, add.", invoke_without_command=True)
app.add_typer(models_app, name="models")


@app.command()
def demo(workspace_uri: WorkspaceOpt = DEFAULT, config: ConfigOpt = None) -> None:
    """Build the demo workspace (project corpus, two real models), resuming if interrupted."""
    from workbench.demo import build_demo

    with handled(), ExitStack() as bars:
        ws = workspace(workspace_uri, config)
        for line in build_demo(ws, step=lambda description: bars.enter_context(progress_bar(description))):
            typer.echo(line)
        typer.echo(f"demo workspace ready at {ws.uri}")


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="A BEIR folder, or a corpus .jsonl/.csv/.parquet.")],
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
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
    from workbench.corpus.ingest import ingest as run_ingest
    from workbench.corpus.readers import Fields, check_empty_policy

    with handled():
        policy = check_empty_policy(on_empty)
        ws = workspace(workspace_uri, config)
        fields = Fields(id=id_field, text=text_field, title=title_field or None)
        with progress_bar("dual-write") as bar:
            result = run_ingest(
                ws,
                path,
                table=table,
                eval_set=eval_set,
                fields=fields,
                split=split,
                on_empty=policy,
                on_progress=bar,
            )
        emit_json(asdict(result)) if as_json else typer.echo(result.message)


@app.command()
def embed(
    model: Annotated[str, typer.Option("--model", "-m", help="Model alias (see `workbench models`).")],
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per checkpoint.")] = 256,
    as_json: JsonOpt = False,
) -> None:
    """Add the model's vector column: streamed, resumable, committed in one version."""
    from workbench.embedding.run import embed as run_embed

    with handled():
        ws = workspace(workspace_uri, config)
        name = table_name(ws, table)
        ref = ws.model(model)
        with progress_bar(f"embedding {name} with {model}") as bar:
            result = run_embed(ws, name, ref, batch_size=batch_size, on_progress=bar)
        emit_json(asdict(result)) if as_json else typer.echo(result.message)


@app.command()
def status(workspace_uri: WorkspaceOpt = DEFAULT, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Tables, rows, vector columns with their pins, versions, tags, stale/missing rows."""
    from workbench.store.status import workspace_status

    with handled():
        data = workspace_status(workspace(workspace_uri, config))
    if as_json:
        emit_json(data)
        return
    typer.echo(f"workspace {data['workspace']}")
    for table in data["tables"]:  # type: ignore[union-attr]
        typer.echo(
            f"\ntable {table['name']}: {table['rows']} rows, version {table['version']} "
            f"({table['n_versions']} versions)"
        )
        for col in table["columns"]:
            mark = " [production]" if col["production"] else ""
            health = f"missing {col['missing_rows']}, stale {col['stale_rows']}"
            typer.echo(
                f"  {col['name']}{mark}\n    {col['model']}@{col['revision']} "
                f"sha256:{col['fingerprint'][:16]}… dim {col['dim']}; {health}"
            )
        for tag, version in table["tags"].items():
            typer.echo(f"  tag {tag} → v{version}")
    for es in data["eval_sets"]:  # type: ignore[union-attr]
        typer.echo(
            f"\neval set {es['name']} (table {es['table']}): {es['n_queries']} queries, "
            f"{es['n_judged']} judged"
        )


@models_app.callback()
def models(
    ctx: typer.Context,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the pinned models this workspace knows (catalog + workbench.toml)."""
    if ctx.invoked_subcommand is not None:
        return
    from workbench.store.status import pinned_models

    with handled():
        rows = pinned_models(workspace(workspace_uri, config))
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        origin = "catalog" if row["builtin"] else "workbench.toml"
        typer.echo(
            f"{row['alias']:<14} {row['name']}@{row['revision']} ({row['source']}: {row['location']})"
            f"\n{'':<14} sha256:{row['fingerprint'][:16]}… dim {row['dim']} → {row['column']} [{origin}]"
        )


@models_app.command("fingerprint")
def models_fingerprint(path: Annotated[Path, typer.Argument(help="A model directory.")]) -> None:
    """Print the sha256 fingerprint of a model directory."""
    from workbench.models.ref import fingerprint_dir

    with handled():
        typer.echo(fingerprint_dir(path))


@models_app.command("add")
def models_add(
    alias: Annotated[str, typer.Argument(help="Alias to pin the model under.")],
    path: Annotated[Path, typer.Option(help="Local sentence-transformers directory.")],
    revision: Annotated[str, typer.Option(help="An exact, non-moving revision label.")],
    name: Annotated[str | None, typer.Option(help="Model name (default: folder name).")] = None,
    query_prefix: Annotated[str, typer.Option(help="Prefix for queries.")] = "",
    document_prefix: Annotated[str, typer.Option(help="Prefix for documents.")] = "",
    allow_pickle: Annotated[bool, typer.Option(help="Allow *.bin pickle weights.")] = False,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
) -> None:
    """Pin a local model directory (fingerprint + dimension) into workbench.toml."""
    from workbench.models.ref import pin_directory

    with handled():
        ws = workspace(workspace_uri, config)
        ref = pin_directory(
            path,
            name=name or path.resolve().name,
            revision=revision,
            allow_pickle=allow_pickle,
            query_prefix=query_prefix,
            document_prefix=document_prefix,
        )
        ws.add_model(alias, ref)
        typer.echo(f"pinned {alias} = {ref.pin} (dim {ref.dim}) → column {ref.column}")


def _register_optional() -> None:
    """Commands of the comparison and lifecycle areas live in their own modules."""
    import importlib

    for module in ("workbench.cli.compare", "workbench.cli.lifecycle", "workbench.cli.judge"):
        try:
            importlib.import_module(module).register(app)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_register_optional()


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars
    app()
