"""Ollama servers: a model pinned as ``name:tag`` plus the manifest digest ``/api/tags`` reports.

``ollama pull nomic-embed-text:latest`` can return different bytes next month, so ``latest``
(or no tag) is refused, and a server whose digest for the tag differs from the pin is refused
before anything is embedded. Requests go through the official ``ollama`` client (``/api/embed``);
it has no retry loop of its own, so 429/5xx/timeouts are retried here with exponential backoff
and jitter.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench.errors import FingerprintMismatchError, ServedModelError
from workbench.models.ref import ModelRef, ServingOptions, check_ollama_tag
from workbench.models.served import ServedEmbedder, Side, pin_served, require_client, retry_call

if TYPE_CHECKING:
    from workbench.models.canary import CanaryPin

__all__ = [
    "DEFAULT_HOST",
    "OllamaEmbedder",
    "normalise_digest",
    "pin_ollama",
]

log = logging.getLogger(__name__)

DEFAULT_HOST = "http://127.0.0.1:11434"


def _retryable(exc: Exception) -> bool:
    import httpx
    import ollama

    if isinstance(exc, ollama.ResponseError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, httpx.TimeoutException)


def normalise_digest(digest: str) -> str:
    """``sha256:abc…`` and ``abc…`` are the same digest; keep the bare lowercase hex."""
    return digest.strip().lower().removeprefix("sha256:")


class OllamaEmbedder(ServedEmbedder):
    """An embedder over an Ollama server's ``/api/embed``."""

    def __init__(self, ref: ModelRef) -> None:
        require_client("ollama")
        import ollama

        super().__init__(ref)
        self.client = ollama.Client(host=ref.location, timeout=self.options.timeout)

    def __repr__(self) -> str:
        return f"OllamaEmbedder({self.ref.pin!r} at {self.ref.location!r})"

    def server_digest(self) -> str:
        """The digest the server reports for the pinned ``name:tag`` (``/api/tags``)."""
        listing = self._call(self.client.list, "listing models")
        for entry in listing.models:
            if entry.model == self.ref.name and entry.digest:
                return normalise_digest(entry.digest)
        have = ", ".join(sorted(str(m.model) for m in listing.models)) or "none"
        raise ServedModelError(
            f"ollama at {self.ref.location} has no model {self.ref.name!r} (it has: {have}); "
            f"run `ollama pull {self.ref.name}` there"
        )

    def verify_digest(self) -> None:
        """Refuse a server whose weights for the tag are not the pinned ones."""
        actual = self.server_digest()
        if actual != self.ref.digest:
            raise FingerprintMismatchError(
                f"ollama model {self.ref.name!r} at {self.ref.location} has digest {actual[:16]}…, "
                f"but the pin says {str(self.ref.digest)[:16]}…: the tag now points at other "
                "weights. Nothing was written. Pin the new weights as a new model "
                "(`workbench models add NEW_ALIAS --source ollama …`) and migrate to it."
            )

    def _request(self, texts: list[str], side: Side) -> tuple[Sequence[Sequence[float]], int, str | None]:
        response = self._call(
            lambda: self.client.embed(model=self.ref.name, input=texts, dimensions=self.ref.truncate_dim),
            f"embedding {len(texts)} inputs",
        )
        return response.embeddings, int(response.prompt_eval_count or 0), response.model

    def _call(self, call, what: str):  # type: ignore[no-untyped-def]
        import ollama

        where = f"ollama at {self.ref.location} (model {self.ref.name!r})"
        try:
            return retry_call(call, retries=self.options.max_retries, retryable=_retryable, what=what)
        except ConnectionError:
            raise ServedModelError(f"cannot reach {where}: is `ollama serve` running there?") from None
        except ollama.ResponseError as exc:
            if exc.status_code == 429:
                raise ServedModelError(
                    f"{where} kept answering 429 after {self.options.max_retries} retries; the run "
                    "stopped. Finished batches are checkpointed: re-run later to resume"
                ) from None
            raise ServedModelError(
                f"{where} answered HTTP {exc.status_code}: {str(exc.error)[:300]}"
            ) from None
        except Exception as exc:
            raise ServedModelError(f"{where} failed while {what}: {type(exc).__name__}") from None


def pin_ollama(
    host: str,
    model: str,
    *,
    digest: str | None = None,
    dimensions: int | None = None,
    query_prefix: str = "",
    document_prefix: str = "",
    serving: ServingOptions | None = None,
    canary_threshold: float = 0.999,
) -> tuple[ModelRef, CanaryPin]:
    """Pin ``name:tag`` on an Ollama server: its digest, dimension and canary vectors.

    Args:
        host: The server, e.g. ``http://127.0.0.1:11434``.
        model: ``name:tag``; ``latest`` or no tag is refused.
        digest: The digest you expect (from ``ollama list``); if given and the server reports
            another, the pin is refused. Omitted: the server's digest is recorded.

    Raises:
        UnpinnedModelError, FingerprintMismatchError, ServedModelError: The message names the
            model at fault.
    """
    check_ollama_tag(model)
    probe = ModelRef(
        name=model,
        source="ollama",
        location=host.rstrip("/"),
        revision=model.rpartition(":")[2],
        fingerprint="0" * 64,
        dim=dimensions or 1,
        truncate_dim=dimensions,
        digest="0" * 64,
        query_prefix=query_prefix,
        document_prefix=document_prefix,
        serving=serving,
        canary_threshold=canary_threshold,
    )
    with OllamaEmbedder(probe) as client:
        actual = client.server_digest()
    if digest is not None and normalise_digest(digest) != actual:
        raise FingerprintMismatchError(
            f"ollama model {model!r} at {host} has digest {actual[:16]}…, not the {digest[:16]}… you "
            "asked to pin: the tag points at other weights than you expect"
        )
    provisional = probe.model_copy(update={"digest": actual})
    with OllamaEmbedder(provisional) as embedder:
        return pin_served(embedder, dimensions=dimensions)
