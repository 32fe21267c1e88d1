"""Loading a pinned model: one entry point for every source, local or served.

Local sources (a directory, a PyPI package, a hub snapshot) are fingerprinted and loaded with
sentence-transformers (:mod:`workbench.models.sources.local`); served sources get a client of
the official library (:mod:`workbench.models.sources.openai`, :mod:`workbench.models.sources.ollama`).
The sources are imported on use, so loading a local model never imports a server client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.models.canary import CanaryPin, CanaryResult
    from workbench.models.embedder import Embedder
    from workbench.models.ref import ModelRef
    from workbench.models.served import ServedEmbedder

__all__ = ["load_embedder", "load_served", "recalled_check"]


def load_embedder(ref: ModelRef) -> Embedder:
    """Resolve, verify and load the pinned model.

    A local model is fingerprinted (no pickle) and loaded on CPU; a served model gets a
    client for its server (the API key read from ``ref.api_key_env``), checked against what
    the server reports (Ollama digest). Canary checks happen where the canaries are known
    (``models.canary.require_canaries``).

    Raises:
        ModelNotFoundError, FingerprintMismatchError, UnsafeWeightsError: The message names the
            model and what to fix.
        DimensionMismatchError, ServedModelError: Likewise.
    """
    if ref.is_served:
        return load_served(ref)
    from workbench.models.sources.local import load_local

    return load_local(ref)


def load_served(ref: ModelRef) -> ServedEmbedder:
    """A client for the served model ``ref`` pins (checked against what the server reports)."""
    if ref.source == "openai":
        from workbench.models.sources.openai import OpenAIEmbedder

        return OpenAIEmbedder(ref)
    from workbench.models.sources.ollama import OllamaEmbedder

    embedder = OllamaEmbedder(ref)
    embedder.verify_digest()
    return embedder


def recalled_check(ref: ModelRef, pin: CanaryPin) -> CanaryResult | None:
    """A local model's remembered passing canary check against ``pin``, without loading the model.

    None for a served model (always re-checked) and whenever the model's files or libraries
    changed since (see :mod:`workbench.models.verified`).
    """
    if ref.is_served:
        return None
    from workbench.models.sources.local import recalled_check as local_check

    return local_check(ref, pin)
