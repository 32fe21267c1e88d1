"""Merging the rankings of two models without ever comparing their cosines directly.

During a progressive migration each query is answered by two columns, each searched with its
own model: the new column over the rows it covers, the old column over the others (or over
all rows). The two ranked lists are merged here, by one of two rules that never put a cosine
of one space next to a cosine of the other:

- ``"rrf"``, reciprocal rank fusion: a document scores ``Σ 1 / (60 + rank)`` over the lists
  that hold it (Cormack et al., 2009); only ranks are compared.
- ``"calibrated"``: each score is mapped to its quantile in a reference sample of the same
  model's scores (:class:`Calibration`, quantile mapping as the threshold translation does in
  :mod:`workbench.metrics.shifts`), and the quantiles are compared; a document in both lists
  keeps its higher quantile.

A document appears once, credited to the model that gave it the larger share of its score
(the new model on a tie). Ties between documents are broken the same way every time: the new
model's document first, then the better rank within its own list. So with one list empty the
merge is exactly the other list (the 0 % and 100 % ends of a migration).

The same functions serve the live transition search
(:class:`workbench.production.transition.TransitionIndex`) and the simulated coverage curve
(:mod:`workbench.comparison.progressive`), so the curve measures what is served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from workbench.errors import InvalidArgumentError

__all__ = [
    "CALIBRATION_DEPTH",
    "CALIBRATION_PROBES",
    "MERGES",
    "RRF_K",
    "Calibration",
    "Fused",
    "Merge",
    "calibration_probes",
    "check_merge",
    "fuse",
]

Merge = Literal["rrf", "calibrated"]
MERGES: tuple[str, ...] = ("rrf", "calibrated")
RRF_K = 60
"""The rank offset of reciprocal rank fusion (the usual 60)."""
CALIBRATION_PROBES = 64
"""Rows of the new column whose own vectors probe both models' score distributions."""
CALIBRATION_DEPTH = 10
"""Neighbours per probe (after the probe itself) in the reference sample."""

NEW, OLD = "new", "old"


@dataclass(frozen=True)
class Fused:
    """One merged result: the document, its merged score, which list ranked it, and how."""

    id: str
    score: float
    source: str
    """``"new"`` or ``"old"``: the model credited with the document."""
    rank: int
    """Its rank (1-based) in that model's own list."""
    cosine: float
    """Its cosine similarity in that model's own space."""


@dataclass(frozen=True)
class Calibration:
    """Reference score samples of both models, for quantile mapping.

    ``new`` and ``old`` are each model's top-:data:`CALIBRATION_DEPTH` neighbour similarities of
    the same probe rows over the same (covered) rows, sorted ascending. An empty sample maps
    scores to themselves.
    """

    new: np.ndarray
    old: np.ndarray

    def quantiles(self, source: str, scores: np.ndarray) -> np.ndarray:
        """The share of the model's reference scores below each score (linear between samples)."""
        reference = self.new if source == NEW else self.old
        scores = np.asarray(scores, dtype=np.float64)
        if reference.size == 0:
            return scores
        levels = (np.arange(reference.size) + 0.5) / reference.size
        return np.interp(scores, reference, levels, left=0.0, right=1.0)

    @classmethod
    def from_neighbours(cls, new: np.ndarray, old: np.ndarray) -> Calibration:
        """From each model's neighbour-similarity matrix of the probes (any shape)."""
        return cls(
            np.sort(np.asarray(new, dtype=np.float64).ravel()),
            np.sort(np.asarray(old, dtype=np.float64).ravel()),
        )


def check_merge(merge: str) -> str:
    """Refuse an unknown merge method."""
    if merge not in MERGES:
        raise InvalidArgumentError(f"unknown merge {merge!r}; merges: {', '.join(MERGES)}")
    return merge


def calibration_probes(ids: Sequence[str], *, n: int = CALIBRATION_PROBES, seed: int = 0) -> list[str]:
    """The ``n`` probe ids among ``ids`` (the covered rows): a seeded hash order, stable as rows are added."""
    keyed = sorted(ids, key=lambda doc: hashlib.blake2b(f"{seed}:{doc}".encode(), digest_size=8).digest())
    return keyed[:n]


def fuse(
    new_ids: Sequence[str],
    new_scores: Sequence[float] | np.ndarray,
    old_ids: Sequence[str],
    old_scores: Sequence[float] | np.ndarray,
    *,
    k: int,
    merge: str = "rrf",
    calibration: Calibration | None = None,
) -> list[Fused]:
    """Merge two ranked lists (best first) into the top ``k``; see the module docstring.

    Args:
        new_ids: The new model's ranked ids.
        new_scores: Their cosines in the new space.
        old_ids: The old model's ranked ids.
        old_scores: Their cosines in the old space.
        k: How many merged results.
        merge: ``"rrf"`` or ``"calibrated"``.
        calibration: The reference samples (``"calibrated"`` only; None maps scores to themselves).
    """
    check_merge(merge)
    totals: dict[str, float] = {}
    credit: dict[str, tuple[float, int, int, float, str]] = {}  # part, list, rank, cosine, source
    lists = ((NEW, new_ids, new_scores), (OLD, old_ids, old_scores))
    for order, (source, ids, scores) in enumerate(lists):
        cosines = np.asarray(scores, dtype=np.float64)
        parts = _parts(source, cosines, merge, calibration)
        for rank, (doc, part, cosine) in enumerate(
            zip(ids, parts.tolist(), cosines.tolist(), strict=True), 1
        ):
            if merge == "rrf":
                totals[doc] = totals.get(doc, 0.0) + part
            else:
                totals[doc] = max(totals.get(doc, -np.inf), part)
            if doc not in credit or part > credit[doc][0]:  # a tie stays with the new model
                credit[doc] = (part, order, rank, cosine, source)
    ranked = sorted(totals, key=lambda doc: (-totals[doc], credit[doc][1], credit[doc][2]))
    return [Fused(doc, totals[doc], credit[doc][4], credit[doc][2], credit[doc][3]) for doc in ranked[:k]]


def _parts(source: str, cosines: np.ndarray, merge: str, calibration: Calibration | None) -> np.ndarray:
    """Each ranked document's share of its merged score from this list."""
    if merge == "rrf":
        return 1.0 / (RRF_K + np.arange(1, cosines.size + 1, dtype=np.float64))
    return (calibration or Calibration(np.empty(0), np.empty(0))).quantiles(source, cosines)
