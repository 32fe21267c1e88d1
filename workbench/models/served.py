"""What every served model shares: request planning, bounded concurrency, response checks,
usage accounting, and the identity of a pin.

A served embedder splits its inputs into requests by count and by an approximate token budget,
sends up to ``concurrency`` of them at once, checks every response (as many vectors as inputs,
the pinned dimension, finite numbers, no zero-norm, constant or repeated vectors) and counts the
tokens the server reports (refusing impossible counts).

A server can change its weights behind the same name at any moment, not only between runs. Once
an embedder's canaries passed (:func:`~workbench.models.canary.require_canaries` arms it with
:meth:`ServedEmbedder.watch_canaries`), every request carries one canary text, rotating through
the pinned set; its vector is stripped from the results and compared with the pinned one, and a
mismatch raises :class:`~workbench.errors.CanaryMismatchError` before the caller sees any vector
of that request. The concrete
clients (the official ``openai`` and ``ollama`` libraries) live in
:mod:`workbench.models.sources.openai` and :mod:`workbench.models.sources.ollama`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import logging
import random
import re
import threading
import time
import unicodedata
import urllib.parse
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Self, TypeVar

import numpy as np

from workbench.errors import CanaryMismatchError, InvalidArgumentError, ServedModelError
from workbench.models.ref import ModelRef, ServingOptions

if TYPE_CHECKING:
    from workbench.models.canary import CanaryPin

__all__ = [
    "CHARS_PER_TOKEN",
    "MAX_TOKENS_PER_INPUT",
    "ServedEmbedder",
    "Side",
    "Usage",
    "approx_tokens",
    "backoff_delay",
    "check_inputs",
    "check_usage",
    "check_vectors",
    "observed_normalisation",
    "pin_served",
    "plan_requests",
    "redact",
    "require_client",
    "retry_call",
    "run_concurrently",
    "served_fingerprint",
    "serving_of",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
Side = Literal["query", "document"]
"""Which side of retrieval a request embeds; asymmetric models embed the two differently."""

CHARS_PER_TOKEN = 4
"""Approximate characters per token, for the request budget (the exact count comes back)."""

MAX_TOKENS_PER_INPUT = 1_000_000
"""More tokens than this for one input text is not a usage count but a broken server."""

_DISTINCT_CHARS = 200
"""Texts whose letters and digits differ (case and accents aside) within this many characters
are different to every embedding model (all read at least this far): they must not share a vector."""


@dataclass
class Usage:
    """Requests, inputs and tokens a served embedder used (tokens as the server reports them)."""

    requests: int = 0
    inputs: int = 0
    tokens: int = 0
    price_per_million_tokens: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, inputs: int, tokens: int) -> None:
        with self._lock:
            self.requests += 1
            self.inputs += inputs
            self.tokens += tokens

    @property
    def cost(self) -> float | None:
        """Estimated cost so far in the price's currency, or None if no price is pinned."""
        if self.price_per_million_tokens is None:
            return None
        return self.tokens * self.price_per_million_tokens / 1e6


def approx_tokens(text: str) -> int:
    """A cheap upper-side token estimate for batching."""
    return len(text) // CHARS_PER_TOKEN + 1


def plan_requests(texts: Sequence[str], *, max_items: int, max_tokens: int) -> list[tuple[int, int]]:
    """Split ``texts`` into ``(start, end)`` slices of at most ``max_items`` and ``max_tokens``.

    A single text over the budget gets a request of its own (the server truncates or refuses).
    """
    slices, start, budget = [], 0, 0
    for i, text in enumerate(texts):
        cost = approx_tokens(text)
        if i > start and (i - start >= max_items or budget + cost > max_tokens):
            slices.append((start, i))
            start, budget = i, 0
        budget += cost
    if start < len(texts):
        slices.append((start, len(texts)))
    return slices


def check_inputs(texts: Sequence[str], model: str) -> None:
    """Refuse inputs a server would reject or silently embed as noise (empty strings)."""
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgumentError(
                f"input {i} for served model {model!r} is empty; servers reject or mis-embed empty "
                "strings. Drop empty rows or give them text before embedding."
            )


def check_vectors(
    raw: Sequence[Sequence[float]] | np.ndarray,
    *,
    n: int,
    dim: int | None,
    model: str,
    texts: Sequence[str] | None = None,
) -> np.ndarray:
    """The response as a float32 ``(n, dim)`` matrix, or ``ServedModelError`` saying what is wrong.

    Refused like NaN: zero-norm vectors (no direction: every cosine with them is 0), constant
    vectors (every component equal) and, given the request's ``texts``, one vector returned for
    texts whose letters and digits differ within their first 200 (case and accents aside).
    """
    if len(raw) != n:
        raise ServedModelError(
            f"served model {model!r} returned {len(raw)} vectors for {n} inputs; the server is "
            "faulty or truncated the request. Nothing was written; retry or lower batch_size."
        )
    try:
        vectors = np.asarray(raw, dtype=np.float32)
    except ValueError as exc:
        raise ServedModelError(f"served model {model!r} returned vectors of different lengths") from exc
    if vectors.ndim != 2 or (dim is not None and vectors.shape[1] != dim):
        got = vectors.shape[1] if vectors.ndim == 2 else vectors.shape
        raise ServedModelError(
            f"served model {model!r} returned {got}-d vectors, but the pin says {dim}-d: the "
            "server changed (or ignores `dimensions`). Pin what it serves now as a new model."
        )
    if not np.isfinite(vectors).all():
        bad = int((~np.isfinite(vectors).all(axis=1)).sum())
        raise ServedModelError(
            f"served model {model!r} returned NaN or inf in {bad} of {n} vectors; nothing was "
            "written. Check the server (a broken quantisation or overflow), then re-run."
        )
    _check_degenerate(vectors, model)
    if texts is not None:
        _check_distinct(vectors, texts, model)
    return vectors


def _check_degenerate(vectors: np.ndarray, model: str) -> None:
    n = len(vectors)
    zero = int((np.linalg.norm(vectors.astype(np.float64), axis=1) < 1e-6).sum())
    if zero:
        raise ServedModelError(
            f"served model {model!r} returned zero-norm vectors for {zero} of {n} inputs; nothing "
            "was written. A zero vector has no direction (every cosine with it is 0): the server "
            "is faulty. Check it, then re-run."
        )
    if vectors.shape[1] > 1:
        constant = int((np.ptp(vectors, axis=1) == 0).sum())
        if constant:
            raise ServedModelError(
                f"served model {model!r} returned constant vectors (every component equal) for "
                f"{constant} of {n} inputs; nothing was written. The server is faulty (a "
                "placeholder answer); check it, then re-run."
            )


def _text_key(text: str) -> str:
    """What any tokenizer keeps of ``text``'s start: letters and digits, caseless, unaccented
    (an uncased model embeds "Café" and "cafe" alike: that is not a faulty server)."""
    plain = unicodedata.normalize("NFKD", text).casefold()
    return "".join(ch for ch in plain if ch.isalnum())[:_DISTINCT_CHARS]


def _check_distinct(vectors: np.ndarray, texts: Sequence[str], model: str) -> None:
    groups: dict[bytes, set[str]] = {}
    for vector, text in zip(vectors, texts, strict=False):
        key = _text_key(text)
        groups.setdefault(np.ascontiguousarray(vector).tobytes(), set()).add(key)
    clashing = sum(len(g) for g in groups.values() if len(g) > 1)
    if clashing:
        raise ServedModelError(
            f"served model {model!r} returned the same vector for {clashing} different inputs; "
            "nothing was written. Different texts never embed identically: the server is faulty "
            "(a cache keyed wrongly, a placeholder answer). Check it, then re-run."
        )


def check_usage(tokens: object, *, inputs: int, model: str) -> int:
    """The token count a server reported for ``inputs`` texts, or ``ServedModelError`` if impossible.

    Negative counts, non-numbers and more than :data:`MAX_TOKENS_PER_INPUT` tokens a text are
    refused: the cost estimate and the usage recorded with the column would be nonsense.
    """
    ok = isinstance(tokens, int | float) and not isinstance(tokens, bool)
    if not ok or not (0 <= float(tokens) <= MAX_TOKENS_PER_INPUT * max(inputs, 1)):  # type: ignore[arg-type]
        raise ServedModelError(
            f"served model {model!r} reported a usage of {tokens!r} tokens for {inputs} inputs; "
            f"that is impossible (0 to {MAX_TOKENS_PER_INPUT:,} a text), so its cost cannot be "
            "counted. Nothing was written; check the server (or the proxy in front of it)."
        )
    return int(tokens)  # type: ignore[call-overload]


def redact(text: str, secret: str, *, mask: str = "***") -> str:
    """``text`` with ``secret`` masked: in any case, and base64- or URL-encoded.

    A base64 echo is found wherever it starts in a longer encoded string (``user:KEY`` in a
    Basic header): each of the three byte alignments leaves a run of characters that depends on
    the secret alone. Secrets shorter than 8 characters are masked only as they are.
    """
    if not secret:
        return text
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    raw = secret.encode()
    if len(raw) >= 8:
        for offset in range(3):
            first = -(-8 * offset // 6)  # ceil: the first character made of secret bits only
            last = 8 * (offset + len(raw)) // 6  # one past the last such character
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                forms.add(encode(b"\0" * offset + raw).decode()[first:last])
    for form in sorted(forms, key=len, reverse=True):
        text = re.sub(re.escape(form), mask, text, flags=re.IGNORECASE)
    return text


def run_concurrently(calls: Sequence[Callable[[], T]], *, concurrency: int) -> list[T]:
    """Run ``calls`` with at most ``concurrency`` in flight; results in input order.

    The first exception is raised once the calls in flight have finished; calls not yet
    started are cancelled.
    """
    if concurrency <= 1 or len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(calls))) as pool:
        futures = [pool.submit(call) for call in calls]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def backoff_delay(attempt: int, retry_after: float | None, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``Retry-After`` when given, else
    exponential backoff with full jitter."""
    if retry_after is not None and 0 <= retry_after <= 120:
        return retry_after
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def served_fingerprint(
    *,
    source: str,
    name: str,
    served_model: str | None,
    digest: str | None,
    dim: int,
    dimensions: int | None,
    normalize: bool,
    query_prefix: str,
    document_prefix: str,
    canary_part: str,
    input_types: tuple[str | None, str | None] = (None, None),
) -> str:
    """sha256 of everything that determines a served model's vectors.

    The host/base URL, the key and the request options are left out: the same model moved to
    another host keeps its identity; a different model, digest, dimension, prefix or canary
    behaviour gets a new one (and so a new vector column). ``input_types`` (query, document) are
    the ``input_type`` request fields of an asymmetric served model.
    """
    identity: dict[str, object] = {
        "source": source,
        "name": name,
        "served_model": served_model,
        "digest": digest,
        "dim": dim,
        "dimensions": dimensions,
        "normalize": normalize,
        "query_prefix": query_prefix,
        "document_prefix": document_prefix,
        "canaries": canary_part,
    }
    if any(input_types):  # only when set, so pins made before input types keep their identity
        identity["input_types"] = list(input_types)
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def serving_of(ref: ModelRef) -> ServingOptions:
    return ref.serving or ServingOptions()


class ServedEmbedder:
    """An :class:`~workbench.models.embedder.Embedder` over a server; subclasses send one request.

    Attributes:
        ref: The pin (``dim`` may be provisional while pinning).
        usage: Requests and tokens so far.
    """

    def __init__(self, ref: ModelRef) -> None:
        self.ref = ref
        self.options = serving_of(ref)
        self.usage = Usage(price_per_million_tokens=self.options.price_per_million_tokens)
        self.reported_model: str | None = None
        self.expect_dim: int | None = ref.dim
        self._watch: tuple[CanaryPin, float] | None = None
        self._rotation = itertools.count()
        self.sentinels_sent: deque[int] = deque(maxlen=1024)
        """The canary (its index in the set) each recent request carried, in order sent."""

    def watch_canaries(self, pin: CanaryPin, *, threshold: float) -> None:
        """From now on every request carries one canary and fails if the model changed.

        Called by :func:`~workbench.models.canary.require_canaries` once the canaries passed.
        The canary (rotating through ``pin``'s set) is embedded as a document, in the request
        itself when the request's side sends what documents send, else in a request of its own
        right after; its vector must match the pinned one at ``threshold``.
        """
        self._watch = (pin, threshold)

    def close(self) -> None:
        """Close the client's connections (also done when the embedder is garbage-collected)."""
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self._encode([self.ref.document_prefix + t for t in texts], list(texts), "document")

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self._encode([self.ref.query_prefix + t for t in texts], list(texts), "query")

    def _encode(self, texts: list[str], raw: list[str], side: Side) -> np.ndarray:
        check_inputs(raw, self.ref.name)
        if not texts:
            return np.zeros((0, self.expect_dim or self.ref.dim), dtype=np.float32)
        items = self.options.batch_size
        if self._watch is not None:  # room for the canary in each request
            items = max(1, items - 1)
        slices = plan_requests(texts, max_items=items, max_tokens=self.options.max_batch_tokens)
        calls = [lambda s=s, e=e: self._checked(texts[s:e], side) for s, e in slices]
        parts = run_concurrently(calls, concurrency=self.options.concurrency)
        return np.concatenate(parts, axis=0)

    def _checked(self, texts: list[str], side: Side) -> np.ndarray:
        canary = self._next_canary()
        inline = canary is not None and self._carries_documents(side)
        sent = [*texts, canary[1]] if canary is not None and inline else texts
        vectors = self._sent(sent, side)
        if canary is not None:
            found = vectors[-1] if inline else self._sent([canary[1]], "document")[0]
            self._compare(canary[0], found)
        return vectors[: len(texts)]

    def _sent(self, texts: list[str], side: Side) -> np.ndarray:
        """One request, its response checked and its usage counted."""
        raw, tokens, model = self._request(texts, side)
        vectors = check_vectors(raw, n=len(texts), dim=self.expect_dim, model=self.ref.name, texts=texts)
        tokens = check_usage(tokens, inputs=len(texts), model=self.ref.name)
        if model:
            self.reported_model = model
        self.usage.add(inputs=len(texts), tokens=tokens)
        return vectors

    def _next_canary(self) -> tuple[int, str] | None:
        """The next canary to carry (index, text as a document), or None when not watching."""
        if self._watch is None:
            return None
        from workbench.models.canary import canary_texts

        texts = canary_texts()
        index = next(self._rotation) % len(texts)
        self.sentinels_sent.append(index)
        return index, self.ref.document_prefix + texts[index]

    def _carries_documents(self, side: Side) -> bool:
        """True if a ``side`` request is embedded as documents are (same request fields)."""
        return side == "document" or self.ref.query_input_type == self.ref.document_input_type

    def _compare(self, index: int, vector: np.ndarray) -> None:
        from workbench.models.canary import NORM_TOLERANCE

        assert self._watch is not None
        pin, threshold = self._watch
        pinned, now = pin.vectors[index].astype(np.float64), vector.astype(np.float64)
        if pinned.shape != now.shape:
            cosine, norm_change = -1.0, float("inf")
        else:
            norms = float(np.linalg.norm(pinned)), float(np.linalg.norm(now))
            cosine = float(pinned @ now) / max(norms[0] * norms[1], 1e-12)
            norm_change = abs(norms[1] - norms[0]) / max(norms[0], 1e-12)
        if cosine < threshold or norm_change > NORM_TOLERANCE:
            raise CanaryMismatchError(
                f"served model {self.ref.name!r} ({self.ref.pin}) changed behind its name mid-run: "
                f"canary {index} came back with cosine {cosine:.4f} to its pinned vector (threshold "
                f"{threshold}); no vector of that request was kept. The server now runs other "
                "weights: re-pin what it serves now as a new model (`workbench models add "
                "NEW_ALIAS …`) and embed it beside the old column.",
                min_cosine=cosine,
            )

    def _request(self, texts: list[str], side: Side) -> tuple[Sequence[Sequence[float]], int, str | None]:
        """One request for ``side``'s texts: ``(vectors, tokens used, model name the server reported)``."""
        raise NotImplementedError


def require_client(module: str) -> None:
    """Refuse clearly when the official client library of a served source is not installed."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        from workbench.errors import ModelNotFoundError

        raise ModelNotFoundError(
            f"served models need the official {module!r} client: pip install 'embedding-workbench[served]'"
        )


def observed_normalisation(vectors: np.ndarray) -> bool:
    """True if every vector is unit length (within float tolerance)."""
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
    return bool(np.all(np.abs(norms - 1.0) < 1e-3))


def retry_call(
    call: Callable[[], T],
    *,
    retries: int,
    retryable: Callable[[Exception], float | bool],
    what: str,
) -> T:
    """Run ``call``; on a retryable error wait (``Retry-After`` or backoff) and try again.

    ``retryable(exc)`` returns False for a final error, True to back off, or a number of
    seconds the server asked to wait.
    """
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            verdict = retryable(exc)
            if verdict is False or attempt >= retries:
                raise
            attempt += 1
            wait = backoff_delay(attempt, None if isinstance(verdict, bool) else float(verdict))
            log.warning(
                "%s failed (%s); retry %d/%d in %.2fs", what, type(exc).__name__, attempt, retries, wait
            )
            time.sleep(wait)


def pin_served(embedder: ServedEmbedder, *, dimensions: int | None) -> tuple[ModelRef, CanaryPin]:
    """Finish a pin: embed the canaries twice, record what the server reports, build the identity.

    ``embedder`` carries a provisional ref (placeholder fingerprint and dimension). The
    canaries are embedded twice: a server that does not reproduce its own vectors within the
    threshold cannot be pinned behaviourally and is refused.

    Raises:
        ServedModelError: the server ignores ``dimensions`` or is not deterministic.
    """
    from workbench.models.canary import compute_canaries

    embedder.expect_dim = None
    first = compute_canaries(embedder)
    second = compute_canaries(embedder)
    ref = embedder.ref
    if dimensions is not None and first.dim != dimensions:
        raise ServedModelError(
            f"{ref.location} ignored dimensions={dimensions} for {ref.name!r} and returned "
            f"{first.dim}-d vectors; pin it without --dimensions (or truncate elsewhere), since a "
            "server that ignores the request would silently change the space later."
        )
    if first.vectors.shape != second.vectors.shape:
        raise ServedModelError(f"{ref.location} returned different dimensions for the same texts")
    a, b = first.vectors.astype(np.float64), second.vectors.astype(np.float64)
    cos = np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    if float(cos.min()) < ref.canary_threshold:
        raise ServedModelError(
            f"{ref.name!r} at {ref.location} is not deterministic: the same canary texts came back "
            f"with cosine {float(cos.min()):.5f} < threshold {ref.canary_threshold}. Lower "
            "canary_threshold for this model, or pin a deterministic deployment."
        )
    reported = embedder.reported_model
    normalize = observed_normalisation(first.vectors)
    fingerprint = served_fingerprint(
        source=ref.source,
        name=ref.name,
        served_model=reported,
        digest=ref.digest,
        dim=first.dim,
        dimensions=dimensions,
        normalize=normalize,
        query_prefix=ref.query_prefix,
        document_prefix=ref.document_prefix,
        canary_part=first.fingerprint_part(),
        input_types=(ref.query_input_type, ref.document_input_type),
    )
    final = ref.model_copy(
        update={
            "fingerprint": fingerprint,
            "dim": first.dim,
            "truncate_dim": dimensions,
            "normalize": normalize,
            "served_model": reported,
            "revision": ref.revision if ref.source == "ollama" else (reported or ref.name),
        }
    )
    # model_copy skips validation; re-validate the final pin once.
    return ModelRef(**final.model_dump()), first
