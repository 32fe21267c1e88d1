"""Pinning a model into a workspace (config + canary vectors) and re-checking a pin.

``pin_model`` is what ``workbench models add`` and the app's Migrate page call, with a
:class:`~workbench.models.pin_options.PinOptions` built from their flags or fields: it builds the
pin (hashing a local directory, or contacting a server), embeds the canary set, stores the
canary vectors in ``wb_canaries`` and only then writes the alias into ``workbench.toml``. Any
refusal happens before the first write; re-running after a crash finishes the job.
"""

from __future__ import annotations

import logging
from pathlib import Path

from workbench.models.canary import CanaryPin, CanaryResult, compute_canaries, verify_canaries
from workbench.models.loading import load_embedder
from workbench.models.pin_options import PinOptions
from workbench.models.ref import ModelRef
from workbench.models.sources.local import pin_directory
from workbench.store.canaries import canaries_for, record_check, save_canaries
from workbench.store.workspace import Workspace

__all__ = [
    "pin_model",
    "verify_model",
]

log = logging.getLogger(__name__)


def pin_model(ws: Workspace, alias: str, options: PinOptions) -> tuple[ModelRef, CanaryPin]:
    """Pin a model under ``alias``: build the pin, store its canaries, then the config entry.

    Args:
        ws: The workspace.
        alias: The new alias (an alias is never re-pinned to another model).
        options: What to pin and how (:class:`~workbench.models.pin_options.PinOptions`,
            already checked when it was made).

    Returns:
        The pin and the canary vectors recorded for it.

    Raises:
        UnpinnedModelError, FingerprintMismatchError, UnsafeWeightsError, ServedModelError, ConfigError:
            The message names the model or option at fault.

    Example:
        >>> pin_model(ws, "e5", PinOptions(source="openai", base_url=url, model="e5"))  # doctest: +SKIP
    """
    ref, canaries = _build(options)
    current = ws.config.models.get(alias)
    if current is not None and current != ref:
        ws.config.with_model(alias, ref)  # raises the "never re-pin in place" error
    save_canaries(ws, ref, canaries)
    ws.add_model(alias, ref)
    log.info("pinned %s = %s → %s", alias, ref.pin, ref.column)
    return ref, canaries


def _build(options: PinOptions) -> tuple[ModelRef, CanaryPin]:
    """The pin and its canary vectors: contacting the server, or hashing the directory."""
    if options.source == "openai":
        return _pin_openai(options)
    if options.source == "ollama":
        return _pin_ollama(options)
    return _pin_path(options)


def _pin_openai(options: PinOptions) -> tuple[ModelRef, CanaryPin]:
    from workbench.models.sources.openai import pin_openai

    base_url, model = options.required()
    return pin_openai(
        base_url,
        model,
        dimensions=options.dimensions,
        api_key_env=options.api_key_env,
        query_prefix=options.query_prefix,
        document_prefix=options.document_prefix,
        query_input_type=options.query_input_type,
        document_input_type=options.document_input_type,
        serving=options.serving,
        canary_threshold=options.canary_threshold,
    )


def _pin_ollama(options: PinOptions) -> tuple[ModelRef, CanaryPin]:
    from workbench.models.sources.ollama import DEFAULT_HOST, pin_ollama

    (model,) = options.required()
    return pin_ollama(
        options.host or DEFAULT_HOST,
        model,
        digest=options.digest,
        dimensions=options.dimensions,
        query_prefix=options.query_prefix,
        document_prefix=options.document_prefix,
        serving=options.serving,
        canary_threshold=options.canary_threshold,
    )


def _pin_path(options: PinOptions) -> tuple[ModelRef, CanaryPin]:
    path, revision = options.required()
    folder = Path(path).expanduser()
    ref = pin_directory(
        folder,
        name=options.name or folder.resolve().name,
        revision=revision,
        allow_pickle=options.allow_pickle,
        query_prefix=options.query_prefix,
        document_prefix=options.document_prefix,
        canary_threshold=options.canary_threshold,
    )
    return ref, compute_canaries(load_embedder(ref))


def verify_model(
    ws: Workspace, alias: str, *, threshold: float | None = None, record: bool = True
) -> CanaryResult:
    """Re-embed ``alias``'s canaries now and compare them with the stored ones (no raise).

    A passing result is recorded for the pin's vector column (best-effort: on a read-only or
    full disk the record is skipped with a logged note, see
    :func:`workbench.store.canaries.record_check`); a failing one writes nothing. Monitoring
    can call this on a schedule. ``record=False`` leaves recording to the caller (the CLI
    records it itself, to show that note).
    """
    ref = ws.model(alias)
    embedder = load_embedder(ref)
    result = verify_canaries(embedder, canaries_for(ws, ref, embedder), threshold=threshold)
    if result.passed and record:
        record_check(ws, ref.column, result, context="verify")
    return result
