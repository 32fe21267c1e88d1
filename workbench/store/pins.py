"""Pinning a model into a workspace (config + canary vectors) and re-checking a pin.

``pin_model`` is what ``workbench models add`` and the app's Migrate page call: it builds the
pin (hashing a local directory, or contacting a server), embeds the canary set, stores the
canary vectors in ``wb_canaries`` and only then writes the alias into ``workbench.toml``. Any
refusal happens before the first write; re-running after a crash finishes the job.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from workbench.errors import InvalidArgumentError
from workbench.models.canary import CanaryPin, CanaryResult, compute_canaries, verify_canaries
from workbench.models.ref import ModelRef, ServingOptions, load_embedder, pin_directory
from workbench.store.canaries import canaries_for, record_check, save_canaries
from workbench.store.workspace import Workspace

__all__ = [
    "PinSource",
    "pin_model",
    "verify_model",
]

log = logging.getLogger(__name__)

PinSource = Literal["path", "openai", "ollama"]


def pin_model(
    ws: Workspace,
    alias: str,
    *,
    source: PinSource = "path",
    path: str | Path | None = None,
    revision: str | None = None,
    name: str | None = None,
    base_url: str | None = None,
    host: str | None = None,
    model: str | None = None,
    digest: str | None = None,
    dimensions: int | None = None,
    api_key_env: str | None = None,
    query_prefix: str = "",
    document_prefix: str = "",
    query_input_type: str | None = None,
    document_input_type: str | None = None,
    allow_pickle: bool = False,
    serving: ServingOptions | None = None,
    canary_threshold: float = 0.999,
) -> tuple[ModelRef, CanaryPin]:
    """Pin a model under ``alias``: build the pin, store its canaries, then the config entry.

    Args:
        ws: The workspace.
        alias: The new alias (an alias is never re-pinned to another model).
        source: ``path`` (a local sentence-transformers directory), ``openai`` (any
            OpenAI-compatible ``/v1/embeddings``) or ``ollama``.
        path, revision, name, allow_pickle: For ``path``.
        base_url, api_key_env: For ``openai``; the key is read from that variable, never stored.
        query_input_type, document_input_type: For ``openai``: the ``input_type`` each request
            sends (``query``/``passage`` for E5), for a model that embeds the two sides apart.
        host, digest: For ``ollama``; ``model`` is ``name:tag`` (``latest`` is refused).
        model: The served model name.
        dimensions: Ask the server for this many dimensions (refused if it ignores them).

    Returns:
        The pin and the canary vectors recorded for it.

    Raises:
        InvalidArgumentError: a required option for the source is missing.
        UnpinnedModelError, FingerprintMismatchError, ServedModelError, ConfigError.
    """
    ref, canaries = _build(
        source,
        path=path,
        revision=revision,
        name=name,
        base_url=base_url,
        host=host,
        model=model,
        digest=digest,
        dimensions=dimensions,
        api_key_env=api_key_env,
        query_prefix=query_prefix,
        document_prefix=document_prefix,
        query_input_type=query_input_type,
        document_input_type=document_input_type,
        allow_pickle=allow_pickle,
        serving=serving,
        canary_threshold=canary_threshold,
    )
    current = ws.config.models.get(alias)
    if current is not None and current != ref:
        ws.config.with_model(alias, ref)  # raises the "never re-pin in place" error
    save_canaries(ws, ref, canaries)
    ws.add_model(alias, ref)
    log.info("pinned %s = %s → %s", alias, ref.pin, ref.column)
    return ref, canaries


def _build(source: PinSource, **o: object) -> tuple[ModelRef, CanaryPin]:
    serving = o["serving"] if isinstance(o["serving"], ServingOptions) else None
    threshold = float(o["canary_threshold"])  # type: ignore[arg-type]
    common = {
        "query_prefix": str(o["query_prefix"]),
        "document_prefix": str(o["document_prefix"]),
        "serving": serving,
        "canary_threshold": threshold,
    }
    dimensions = o["dimensions"] if isinstance(o["dimensions"], int) else None
    input_types = {k: o[k] or None for k in ("query_input_type", "document_input_type")}
    if source == "openai":
        from workbench.models.sources.openai import pin_openai

        base_url, model = _required(source, base_url=o["base_url"], model=o["model"])
        env = o["api_key_env"] if isinstance(o["api_key_env"], str) else None
        return pin_openai(base_url, model, dimensions=dimensions, api_key_env=env, **input_types, **common)  # type: ignore[arg-type]
    given = [k for k, v in input_types.items() if v]
    if given:
        raise InvalidArgumentError(
            f"{_flags(given)} is sent only to OpenAI-compatible servers (--source openai); a model "
            f"from --source {source} takes --query-prefix/--document-prefix instead"
        )
    if source == "ollama":
        from workbench.models.sources.ollama import DEFAULT_HOST, pin_ollama

        (model,) = _required(source, model=o["model"])
        digest = o["digest"] if isinstance(o["digest"], str) else None
        host = str(o["host"] or DEFAULT_HOST)
        return pin_ollama(host, model, digest=digest, dimensions=dimensions, **common)  # type: ignore[arg-type]
    if source != "path":
        raise InvalidArgumentError(f"unknown source {source!r}; choose one of path, openai, ollama")
    path, revision = _required(source, path=o["path"], revision=o["revision"])
    folder = Path(path).expanduser()
    ref = pin_directory(
        folder,
        name=str(o["name"] or folder.resolve().name),
        revision=revision,
        allow_pickle=bool(o["allow_pickle"]),
        query_prefix=common["query_prefix"],
        document_prefix=common["document_prefix"],
        canary_threshold=threshold,
    )
    return ref, compute_canaries(load_embedder(ref))


def _required(source: str, **values: object) -> list[str]:
    missing = [k for k, v in values.items() if v in (None, "")]
    if missing:
        raise InvalidArgumentError(f"--source {source} needs {_flags(missing)}")
    return [str(v) for v in values.values()]


def _flags(options: list[str]) -> str:
    """``--base-url, --model``: the CLI flags of ``pin_model`` options."""
    return ", ".join("--" + k.replace("_", "-") for k in options)


def verify_model(ws: Workspace, alias: str, *, threshold: float | None = None) -> CanaryResult:
    """Re-embed ``alias``'s canaries now and compare them with the stored ones (no raise).

    A passing result is recorded for every vector column of that pin; a failing one writes
    nothing. Monitoring can call this on a schedule.
    """
    ref = ws.model(alias)
    embedder = load_embedder(ref)
    result = verify_canaries(embedder, canaries_for(ws, ref, embedder), threshold=threshold)
    if result.passed:
        record_check(ws, ref.column, result, context="verify")
    return result
