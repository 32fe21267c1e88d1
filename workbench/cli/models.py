"""Model commands: list the pinned models, fingerprint a folder, pin a local model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import DEFAULT, ConfigOpt, JsonOpt, WorkspaceOpt, emit_json, handled, workspace

__all__ = ["models", "models_add", "models_app", "models_fingerprint", "register"]

models_app = typer.Typer(help="Pinned models: list, fingerprint, add.", invoke_without_command=True)


def register(app: typer.Typer) -> None:
    """Add the ``models`` command group to ``app``."""
    app.add_typer(models_app, name="models")


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
