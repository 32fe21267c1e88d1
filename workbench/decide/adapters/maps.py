"""The maps a Drift-Adapter can be: from the new model's space into the old model's space.

Fitted on documents embedded by both models (the two side-by-side columns), never on the
queries they are evaluated on:

- ``procrustes``: an orthogonal rotation (``scipy.linalg.orthogonal_procrustes``; a
  semi-orthogonal one by SVD when the dimensions differ). Keeps angles; cannot bend.
- ``affine``: the rotation plus a low-rank affine correction, ``x (R + ΔW) + b`` with ΔW of
  rank ``rank``, fitted by reduced-rank ridge regression on what the rotation leaves (the
  least-squares fit of the residual, projected on its top ``rank`` directions). A plain rank-r
  map ``x W + b`` squeezes every query into r dimensions of the old space and ranks worse than
  no adapter at all (measured on Cranfield: nDCG@10 0.176 vs 0.312 at rank 64).
- ``mlp``: the rotation plus a small residual MLP, ``x R + MLP(x)``, trained in torch on a
  cosine loss; its last layer starts at zero, so training starts from the rotation.

Every map is plain numpy arrays once fitted: applying one needs no torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from scipy import linalg

from workbench.errors import InvalidArgumentError

__all__ = ["AdapterKind", "AdapterMap", "fit_map"]

log = logging.getLogger(__name__)

AdapterKind = Literal["procrustes", "affine", "mlp"]
KINDS: tuple[str, ...] = get_args(AdapterKind)


@dataclass(frozen=True)
class AdapterMap:
    """A fitted map; ``params`` are float32 arrays whose names depend on ``kind``."""

    kind: AdapterKind
    params: dict[str, np.ndarray]

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Map ``(n, d_new)`` vectors into the old space, unit-normalised ``(n, d_old)``."""
        x = _unit(np.asarray(vectors, dtype=np.float32))
        p = self.params
        if self.kind == "procrustes":
            y = x @ p["R"]
        elif self.kind == "affine":
            y = x @ p["W"] + p["b"]
        else:
            hidden = np.maximum(x @ p["W1"] + p["b1"], 0.0)
            y = x @ p["R"] + hidden @ p["W2"] + p["b2"]
        return _unit(y.astype(np.float32))


def fit_map(
    source: np.ndarray,
    target: np.ndarray,
    *,
    kind: AdapterKind,
    rank: int = 64,
    ridge: float = 1e-2,
    hidden: int = 256,
    epochs: int = 40,
    seed: int = 0,
) -> AdapterMap:
    """Fit a map from ``source`` rows (new model) to ``target`` rows (old model, same documents).

    Raises:
        InvalidArgumentError: an unknown kind, unequal row counts, fewer rows than needed, a rank
            outside [1, min(d_new, d_old)].
    """
    if kind not in KINDS:
        raise InvalidArgumentError(f"unknown adapter kind {kind!r}; allowed: {', '.join(KINDS)}")
    if len(source) != len(target):
        raise InvalidArgumentError(
            f"{len(source)} source rows but {len(target)} target rows; they must pair up"
        )
    if len(source) < 2:
        raise InvalidArgumentError(f"an adapter needs at least 2 paired documents, got {len(source)}")
    from threadpoolctl import threadpool_limits

    # Small dense problems: one BLAS thread is as fast on a quiet machine, and on a busy one the
    # spinning worker threads made the affine fit 25x slower (225 s vs 9 s seen on 2 cores).
    with threadpool_limits(limits=1):
        x, y = _unit(source.astype(np.float64)), _unit(target.astype(np.float64))
        rotation = _rotation(x, y)
        if kind == "procrustes":
            return AdapterMap(kind, {"R": rotation.astype(np.float32)})
        if kind == "affine":
            return AdapterMap(kind, _affine(x, y, rotation, rank=rank, ridge=ridge))
        return AdapterMap(kind, _mlp(x, y, rotation, hidden=hidden, epochs=epochs, seed=seed))


def _rotation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.shape[1] == y.shape[1]:
        rotation, _ = linalg.orthogonal_procrustes(x, y)
        return rotation
    u, _, vt = linalg.svd(x.T @ y, full_matrices=False)
    return u @ vt


def _affine(
    x: np.ndarray, y: np.ndarray, rotation: np.ndarray, *, rank: int, ridge: float
) -> dict[str, np.ndarray]:
    if not 1 <= rank <= min(x.shape[1], y.shape[1]):
        raise InvalidArgumentError(f"rank must be between 1 and {min(x.shape[1], y.shape[1])}, got {rank}")
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc, rc = x - mx, (y - my) - (x - mx) @ rotation
    gram = xc.T @ xc + ridge * len(x) * np.eye(x.shape[1])
    full = linalg.solve(gram, xc.T @ rc, assume_a="pos")
    _, _, vt = linalg.svd(xc @ full, full_matrices=False)
    weight = rotation + full @ (vt[:rank].T @ vt[:rank])
    return {"W": weight.astype(np.float32), "b": (my - mx @ weight).astype(np.float32)}


def _mlp(x: np.ndarray, y: np.ndarray, rotation: np.ndarray, *, hidden: int, epochs: int, seed: int) -> dict:
    import torch

    threads = torch.get_num_threads()
    # A small model: one thread is as fast, and idle worker threads spin on a busy machine.
    torch.set_num_threads(1)
    try:
        return _train(x, y, rotation, hidden=hidden, epochs=epochs, seed=seed)
    finally:
        torch.set_num_threads(threads)


def _train(
    x: np.ndarray, y: np.ndarray, rotation: np.ndarray, *, hidden: int, epochs: int, seed: int
) -> dict:
    import torch

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.tensor(x, dtype=torch.float32)
    targets = torch.tensor(y, dtype=torch.float32)
    base = torch.nn.Linear(x.shape[1], y.shape[1], bias=False)
    first = torch.nn.Linear(x.shape[1], hidden)
    last = torch.nn.Linear(hidden, y.shape[1])
    with torch.no_grad():
        base.weight.copy_(torch.tensor(rotation.T, dtype=torch.float32))
        last.weight.zero_()
        last.bias.zero_()
    params = [*base.parameters(), *first.parameters(), *last.parameters()]
    optimiser = torch.optim.Adam(params, lr=1e-3, weight_decay=1e-5)
    batch = 256
    for epoch in range(epochs):
        order = torch.randperm(len(inputs), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            out = base(inputs[rows]) + last(torch.relu(first(inputs[rows])))
            loss = 1.0 - torch.nn.functional.cosine_similarity(out, targets[rows]).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(rows)
        log.debug("mlp adapter epoch %d: loss %.4f", epoch, total / len(inputs))
    with torch.no_grad():
        return {
            "R": base.weight.T.numpy().astype(np.float32).copy(),
            "W1": first.weight.T.numpy().astype(np.float32).copy(),
            "b1": first.bias.numpy().astype(np.float32).copy(),
            "W2": last.weight.T.numpy().astype(np.float32).copy(),
            "b2": last.bias.numpy().astype(np.float32).copy(),
        }


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
