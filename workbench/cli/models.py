"""Model commands: list the pinned models, fingerprint a folder, pin a local or served model,
re-check a pin's canaries."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import (
    DEFAULT,
    ConfigOpt,
    JsonOpt,
    WorkspaceOpt,
    echo,
    emit_json,
    handled,
    workspace,
)

__all__ = [
    "models",
    "models_add",
    "models_app",
    "models_fingerprint",
    "models_relocate",
    "models_sunset",
    "models_verify",
    "parse_day",
    "register",
]

models_app = typer.Typer(
    help="Pinned models: list, fingerprint, add, verify, relocate, sunset.", invoke_without_command=True
)


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
        rows = pinned_models(workspace(workspace_uri, config, create=True))
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        origin = "catalog" if row["builtin"] else "workbench.toml"
        echo(
            f"{row['alias']:<14} {row['name']}@{row['revision']} ({row['source']}: {row['location']})"
            f"\n{'':<14} sha256:{row['fingerprint'][:16]}… dim {row['dim']} → {row['column']} [{origin}]"
            + _sunset_line(row)
        )


def _sunset_line(row: dict[str, object]) -> str:
    """``sunset 2027-03-01 (87 days left; NOTE)``, on its own line, or '' without a sunset."""
    if row.get("sunset") is None:
        return ""
    days = int(str(row["days_left"]))
    left = f"{days} days left" if days >= 0 else f"PAST by {-days} days"
    note = f"; {row['sunset_note']}" if row.get("sunset_note") else ""
    return f"\n{'':<14} sunset {row['sunset']} ({left}{note})"


def parse_day(text: str, *, what: str = "the sunset") -> date:
    """A ``YYYY-MM-DD`` date, or an ``InvalidArgumentError`` naming the format."""
    from workbench.errors import InvalidArgumentError

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgumentError(
            f"{what} {text!r} is not a date; write YYYY-MM-DD, e.g. 2027-03-01"
        ) from None


@models_app.command("fingerprint")
def models_fingerprint(path: Annotated[Path, typer.Argument(help="A model directory.")]) -> None:
    """Print the sha256 fingerprint of a model directory."""
    from workbench.models.fingerprint import fingerprint_dir

    with handled():
        echo(fingerprint_dir(path))


@models_app.command("add")
def models_add(
    alias: Annotated[str, typer.Argument(help="Alias to pin the model under.")],
    source: Annotated[
        str, typer.Option(help="path (local directory), openai (OpenAI-compatible server) or ollama.")
    ] = "path",
    path: Annotated[Path | None, typer.Option(help="--source path: a model directory.")] = None,
    revision: Annotated[str | None, typer.Option(help="--source path: an exact, non-moving label.")] = None,
    name: Annotated[str | None, typer.Option(help="--source path: model name (default: folder).")] = None,
    base_url: Annotated[str | None, typer.Option(help="--source openai: https://…/v1.")] = None,
    host: Annotated[str | None, typer.Option(help="--source ollama: e.g. http://127.0.0.1:11434.")] = None,
    model: Annotated[str | None, typer.Option(help="Served model name (ollama: NAME:TAG).")] = None,
    digest: Annotated[str | None, typer.Option(help="--source ollama: the digest you expect.")] = None,
    dimensions: Annotated[int | None, typer.Option(min=1, help="Ask the server for N dimensions.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="NAME of the environment variable holding the API key.")
    ] = None,
    query_prefix: Annotated[str, typer.Option(help="Prefix for queries.")] = "",
    document_prefix: Annotated[str, typer.Option(help="Prefix for documents.")] = "",
    query_input_type: Annotated[
        str | None, typer.Option(help="--source openai: input_type sent with queries (E5: query).")
    ] = None,
    document_input_type: Annotated[
        str | None, typer.Option(help="--source openai: input_type sent with documents (E5: passage).")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Served: inputs per request.")] = 64,
    concurrency: Annotated[int, typer.Option(min=1, help="Served: requests in flight.")] = 4,
    max_retries: Annotated[int, typer.Option(min=0, help="Served: retries on 429/5xx/timeouts.")] = 5,
    timeout: Annotated[float, typer.Option(min=0.1, help="Served: seconds per request.")] = 60.0,
    price: Annotated[float | None, typer.Option(min=0, help="Served: price per 1M tokens.")] = None,
    canary_threshold: Annotated[float, typer.Option(min=0, max=1, help="Minimum canary cosine.")] = 0.999,
    allow_pickle: Annotated[bool, typer.Option(help="Allow *.bin pickle weights.")] = False,
    sunset: Annotated[
        str | None, typer.Option(help="The provider's retirement date of this model, YYYY-MM-DD.")
    ] = None,
    sunset_note: Annotated[str | None, typer.Option(help="The deprecation notice (a URL).")] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
) -> None:
    """Pin a model (local directory or served) into workbench.toml, with its canary vectors."""
    from workbench import PinOptions, ServingOptions, pin_model
    from workbench.errors import InvalidArgumentError
    from workbench.models.pin_options import PinOptionError, pin_source
    from workbench.models.ref import SERVED_SOURCES

    with handled():
        serving = None
        if source in SERVED_SOURCES:
            serving = ServingOptions(
                batch_size=batch_size,
                concurrency=concurrency,
                max_retries=max_retries,
                timeout=timeout,
                price_per_million_tokens=price,
            )
        try:
            options = PinOptions(
                source=pin_source(source),
                path=path,
                revision=revision,
                name=name,
                allow_pickle=allow_pickle,
                base_url=base_url,
                api_key_env=api_key_env,
                query_input_type=query_input_type,
                document_input_type=document_input_type,
                host=host,
                digest=digest,
                model=model,
                dimensions=dimensions,
                query_prefix=query_prefix,
                document_prefix=document_prefix,
                serving=serving,
                canary_threshold=canary_threshold,
            )
        except PinOptionError as exc:
            raise InvalidArgumentError(exc.describe(_flag)) from exc
        day = parse_day(sunset) if sunset is not None else None
        if sunset_note is not None and day is None:
            raise InvalidArgumentError("--sunset-note needs --sunset DATE (the note explains the date)")
        ws = workspace(workspace_uri, config, create=True)
        ref, canaries = pin_model(ws, alias, options)
        if day is not None:
            ref = ws.update_model(alias, sunset=day, sunset_note=sunset_note)
        reported = f", server reports {ref.served_model!r}" if ref.served_model else ""
        echo(
            f"pinned {alias} = {ref.pin} (dim {ref.dim}{reported}) → column {ref.column}; "
            f"{len(canaries.vectors)} canary vectors stored"
        )


def _flag(option: str) -> str:
    """The flag of a ``PinOptions`` field: ``base_url`` → ``--base-url``."""
    return "--" + option.replace("_", "-")


@models_app.command("verify")
def models_verify(
    alias: Annotated[str, typer.Argument(help="The pinned alias to re-check.")],
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-embed the alias's canary texts and compare with the pinned vectors (exit 2 on change)."""
    from workbench import verify_model
    from workbench.store.canaries import record_check

    with handled():
        ws = workspace(workspace_uri, config)
        result = verify_model(ws, alias, record=False)
        # best-effort: a read-only or full disk skips the record, never the verdict
        unrecorded = record_check(ws, ws.model(alias).column, result, context="verify")
    if unrecorded is not None:
        echo(f"note: {unrecorded}", err=True)
    if as_json:
        emit_json({**asdict(result), "passed": result.passed})
    else:
        verdict = "ok" if result.passed else f"CHANGED: {result.problem}"
        echo(
            f"{alias}: {verdict}; min cosine {result.min_cosine:.5f}, dim {result.dim}/"
            f"{result.expected_dim}, {result.seconds:.2f}s"
        )
    if not result.passed:
        raise typer.Exit(2)


@models_app.command("relocate")
def models_relocate(
    alias: Annotated[str, typer.Argument(help="The served alias whose server moved.")],
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible: the new https://…/v1.")] = None,
    host: Annotated[str | None, typer.Option(help="Ollama: the new host (http://HOST:11434).")] = None,
    actor: Annotated[str | None, typer.Option(help="Who moved it (default: the OS user).")] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Point a served model at its new server once its canaries verify there (no re-embedding).

    Refused with nothing written when the model there behaves differently: then it is a new
    model (pin it and migrate).
    """
    from workbench.errors import InvalidArgumentError
    from workbench.store.relocations import relocate_model

    with handled():
        if (base_url is None) == (host is None):
            raise InvalidArgumentError("give the new location with --base-url (openai) or --host (ollama)")
        ws = workspace(workspace_uri, config)
        source = ws.model(alias).source
        if (base_url is not None and source == "ollama") or (host is not None and source == "openai"):
            flag = "--host" if source == "ollama" else "--base-url"
            raise InvalidArgumentError(f"{alias!r} is an {source} model: give its new location with {flag}")
        record = relocate_model(ws, alias, str(base_url or host), actor=actor)
    if as_json:
        emit_json(asdict(record))
    else:
        echo(record.message)


@models_app.command("sunset")
def models_sunset(
    alias: Annotated[str, typer.Argument(help="The pinned alias the provider deprecates.")],
    day: Annotated[str, typer.Argument(metavar="DATE", help="Retirement date, YYYY-MM-DD.")],
    note: Annotated[str | None, typer.Option(help="The deprecation notice (a URL) or its gist.")] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
) -> None:
    """Record the date a provider retires a model; `workbench monitor` alarms as it comes near."""
    with handled():
        when = parse_day(day)
        ws = workspace(workspace_uri, config)
        ref = ws.update_model(alias, sunset=when, sunset_note=note)
        left = ref.days_left(date.today())
        echo(f"{alias} ({ref.pin}) sunsets on {when.isoformat()} ({left} days from today)")
