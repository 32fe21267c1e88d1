"""Estimate a migration before running it: rows, tokens, time, money and storage.

``plan_embed`` reads the corpus once (at one table version), counts tokens with the model's
own tokenizer, times the model on a random sample of documents, and scales by tokens (a long
document costs more than a short one, so a per-row rate from a sample of short rows would
mislead). Money appears only when a price per million tokens is known: an unknown price is
``None`` — shown empty, never as zero. After the real run, :func:`check_plan` compares the
estimate with what the run measured.

Example:
    >>> plan = plan_embed(ws, "scifact", ws.model("minilm-l6"))  # doctest: +SKIP
    >>> plan.message  # doctest: +SKIP
    'minilm-l6 on scifact: 5,183 rows, 1.6M tokens; ≈ 2.9 min at 1 worker; +8.3 MB vectors …'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from workbench.contract import document_text
from workbench.errors import DataError, InvalidArgumentError
from workbench.models.embedder import Embedder, require_own_model
from workbench.models.loading import load_embedder
from workbench.models.ref import ModelRef

if TYPE_CHECKING:
    from lancedb.table import Table

    from workbench.embedding.result import EmbedResult
    from workbench.store.workspace import Workspace

__all__ = ["IndexKind", "MigrationPlan", "PlanCheck", "check_plan", "count_tokens", "plan_embed"]

log = logging.getLogger(__name__)

IndexKind = Literal["none", "ivf_pq", "ivf_hnsw_sq"]
_INDEX_KINDS = ("none", "ivf_pq", "ivf_hnsw_sq")
_HASH_BYTES = 64 + 4  # the src__ column: a sha256 in hex plus its string offset
_ROW_ID = 8
_HNSW_LINKS = 2 * 20  # IVF_HNSW_SQ keeps about 2·M neighbour ids per vector on level 0 (M = 20)
_TOLERANCE = 0.20


@dataclass(frozen=True)
class MigrationPlan:
    """What embedding one table with one model will cost, estimated before the run.

    Attributes:
        table: The corpus table, at ``table_version``.
        column: The vector column the run would add.
        model: The model's pin, for display.
        rows: Documents to embed.
        tokens: Tokens the model sees (its tokenizer, special tokens included, cut at its
            ``max_seq_length``); ``None`` when the embedder exposes no tokenizer.
        tokens_untruncated: Tokens of the full texts (what a provider that bills whole inputs
            would count); ``None`` likewise.
        truncated_rows: Documents longer than the model's limit (their tail is not embedded).
        sample_rows: Documents timed.
        sample_seconds: Seconds the model took for them.
        rows_per_second: Measured throughput of one worker on the sample.
        workers: Parallel workers assumed (ideal scaling: an optimistic bound on a busy machine).
        seconds: Estimated wall time of the run.
        price_per_million: Price per 1M tokens, or ``None`` when unknown.
        cost: Estimated money, or ``None`` when the price (or the token count) is unknown.
        vector_bytes: Bytes the new vector column and its ``src__`` column add.
        index: The vector index assumed (``none``, ``ivf_pq``, ``ivf_hnsw_sq``).
        index_bytes: Approximate bytes of that index.
    """

    table: str
    table_version: int
    column: str
    model: str
    rows: int
    tokens: int | None
    tokens_untruncated: int | None
    truncated_rows: int | None
    sample_rows: int
    sample_seconds: float
    rows_per_second: float
    workers: int
    seconds: float
    price_per_million: float | None
    cost: float | None
    vector_bytes: int
    index: IndexKind
    index_bytes: int

    @property
    def storage_bytes(self) -> int:
        """Vectors, their ``src__`` column and the index."""
        return self.vector_bytes + self.index_bytes

    @property
    def message(self) -> str:
        tokens = f"{self.tokens:,} tokens" if self.tokens is not None else "tokens unknown"
        money = f"${self.cost:,.2f}" if self.cost is not None else "cost unknown (no price configured)"
        index = f" + {_mb(self.index_bytes)} {self.index}" if self.index != "none" else ""
        return (
            f"{self.column} on {self.table!r}: {self.rows:,} rows, {tokens}; "
            f"≈ {_duration(self.seconds)} at {self.workers} worker(s) "
            f"({self.rows_per_second:.1f} rows/s measured on {self.sample_rows} rows); {money}; "
            f"+{_mb(self.vector_bytes)} vectors{index}"
        )


@dataclass(frozen=True)
class PlanCheck:
    """An estimate next to what the run measured; ``error`` = estimate / measured − 1."""

    estimated_seconds: float
    measured_seconds: float
    error: float
    estimated_bytes: int
    measured_bytes: int | None

    @property
    def within_tolerance(self) -> bool:
        """True when the time estimate is within ±20 % of the measured run."""
        return abs(self.error) <= _TOLERANCE

    @property
    def message(self) -> str:
        verdict = "within" if self.within_tolerance else "outside"
        return (
            f"estimated {_duration(self.estimated_seconds)}, measured {_duration(self.measured_seconds)} "
            f"({self.error:+.0%}, {verdict} ±{_TOLERANCE:.0%})"
        )


def plan_embed(
    ws: Workspace,
    table_name: str,
    ref: ModelRef,
    *,
    embedder: Embedder | None = None,
    sample: int = 128,
    workers: int = 1,
    encode_batch: int = 32,
    price_per_million: float | None = None,
    index: IndexKind = "none",
    seed: int = 0,
) -> MigrationPlan:
    """Estimate rows, tokens, time, money and storage of embedding ``table_name`` with ``ref``.

    Nothing is written. The sample is drawn at random (``seed``), timed after one warm-up
    batch (a local model: the better of two passes), and scaled by the tokens the model sees.

    Args:
        ws: The workspace.
        table_name: The corpus table.
        ref: The pinned model to estimate.
        embedder: Its loaded embedder (loaded and verified if omitted).
        sample: Documents to time (at most the table's rows).
        workers: Parallel workers the run would use (the time divides by it).
        encode_batch: Rows per forward pass, as ``embed`` uses.
        price_per_million: Price per 1M tokens; ``None`` when the model has no known price.
        index: The vector index to budget storage for.
        seed: Seed of the sample.

    Raises:
        InvalidArgumentError: ``sample`` < 1, ``workers`` < 1, a negative price, an unknown index.
        DataError: the table is empty.
        MixedIndexError: ``embedder`` is not ``ref``'s model.
    """
    _check_options(sample, workers, price_per_million, index)
    table = ws.table(table_name)
    version = int(table.version)
    texts = _documents(table)
    if not texts:
        raise DataError(f"table {table_name!r} has no documents: nothing to plan")
    if embedder is None:
        embedder = load_embedder(ws.located(ref))
    require_own_model(embedder, ref, column=ref.column)
    counts = count_tokens(embedder, [ref.document_prefix + t for t in texts])
    picked = np.random.default_rng(seed).choice(len(texts), size=min(sample, len(texts)), replace=False)
    # A local model is timed twice (best of two); a served one once: every pass is billed.
    repeats = 1 if counts is None else 2
    seconds = _time_sample(embedder, [texts[i] for i in picked], encode_batch, repeats=repeats)
    tokens: int | None = None
    untruncated: int | None = None
    truncated: int | None = None
    if counts is not None:
        seen = np.minimum(counts, _limit(embedder))
        per_token = seconds / max(int(seen[picked].sum()), 1)
        total_seconds = per_token * int(seen.sum())
        tokens, untruncated, truncated = int(seen.sum()), int(counts.sum()), int((counts > seen).sum())
    else:
        total_seconds = seconds / len(picked) * len(texts)
    cost = tokens * price_per_million / 1e6 if tokens is not None and price_per_million is not None else None
    return MigrationPlan(
        table=table_name,
        table_version=version,
        column=ref.column,
        model=ref.pin,
        rows=len(texts),
        tokens=tokens,
        tokens_untruncated=untruncated,
        truncated_rows=truncated,
        sample_rows=len(picked),
        sample_seconds=seconds,
        rows_per_second=len(picked) / seconds if seconds > 0 else float("inf"),
        workers=workers,
        seconds=total_seconds / workers,
        price_per_million=price_per_million,
        cost=cost,
        vector_bytes=len(texts) * (ref.dim * 4 + _HASH_BYTES),
        index=index,
        index_bytes=_index_bytes(index, len(texts), ref.dim),
    )


def count_tokens(embedder: Embedder, texts: Sequence[str]) -> np.ndarray | None:
    """Tokens per text with the model's own tokenizer (special tokens included, no cut).

    Returns ``None`` when the embedder exposes no tokenizer (a served model: count with the
    provider's usage numbers instead).
    """
    tokenizer = getattr(getattr(embedder, "model", None), "tokenizer", None)
    if tokenizer is None:
        return None
    counts: list[int] = []
    for start in range(0, len(texts), 1024):
        encoded = tokenizer(
            list(texts[start : start + 1024]), add_special_tokens=True, truncation=False, verbose=False
        )
        counts.extend(len(ids) for ids in encoded["input_ids"])
    return np.asarray(counts, dtype=np.int64)


def check_plan(plan: MigrationPlan, result: EmbedResult, *, measured_bytes: int | None = None) -> PlanCheck:
    """Compare the estimate with a finished run of the same column.

    Raises:
        InvalidArgumentError: ``result`` is of another column or did not run (column existed).
    """
    if result.column != plan.column:
        raise InvalidArgumentError(f"the run built {result.column}, the plan is for {plan.column}")
    if not result.created or result.seconds <= 0:
        raise InvalidArgumentError(
            f"{result.column} already existed, so nothing was measured; plan and run on a table "
            "without the column"
        )
    return PlanCheck(
        estimated_seconds=plan.seconds,
        measured_seconds=result.seconds,
        error=plan.seconds / result.seconds - 1.0,
        estimated_bytes=plan.vector_bytes,
        measured_bytes=measured_bytes,
    )


def _check_options(sample: int, workers: int, price: float | None, index: str) -> None:
    if sample < 1:
        raise InvalidArgumentError(f"sample must be at least 1 document, got {sample}")
    if workers < 1:
        raise InvalidArgumentError(f"workers must be at least 1, got {workers}")
    if price is not None and price < 0:
        raise InvalidArgumentError(f"price per 1M tokens must be >= 0, got {price}; omit it when unknown")
    if index not in _INDEX_KINDS:
        raise InvalidArgumentError(f"unknown index {index!r}; allowed: {', '.join(_INDEX_KINDS)}")


def _documents(table: Table) -> list[str]:
    """What ``embed`` hands the model (before the model's own document prefix)."""
    data = table.to_lance().to_table(columns=["title", "text"])
    titles = data.column("title").to_pylist()
    bodies = data.column("text").to_pylist()
    return [document_text(t or "", x or "") for t, x in zip(titles, bodies, strict=True)]


def _limit(embedder: Embedder) -> int:
    limit = getattr(getattr(embedder, "model", None), "max_seq_length", None)
    return int(limit) if limit else np.iinfo(np.int64).max


def _time_sample(embedder: Embedder, texts: list[str], encode_batch: int, *, repeats: int) -> float:
    """Seconds to embed ``texts``: the best of ``repeats`` timed passes after one warm-up batch.

    A single pass of a 128-document sample varied by ±30 % between back-to-back plans on a quiet
    machine (5.9 s and 8.1 s for MiniLM-L6 on SciFact), and the first pass over new input shapes
    is about 10 % slower than later ones; the best of two was stable to ±2 % across three plans
    and within +4–7 % of encoding the whole corpus (``BENCHMARKS.md``, plan vs run).
    """
    embedder.encode_documents(texts[:encode_batch], batch_size=encode_batch)  # warm-up: first call pays setup
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        embedder.encode_documents(texts, batch_size=encode_batch)
        best = min(best, time.perf_counter() - start)
    return best


def _index_bytes(index: IndexKind, rows: int, dim: int) -> int:
    """Approximate index size: PQ codes (dim/16 sub-vectors, one byte each) or SQ + HNSW links."""
    if index == "ivf_pq":
        return rows * (max(dim // 16, 1) + _ROW_ID)
    if index == "ivf_hnsw_sq":
        return rows * (dim + _ROW_ID + _HNSW_LINKS * 8)
    return 0


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
