"""Drift-Adapter artifacts: fitted on two side-by-side columns, versioned, fingerprinted, bound to both pins.

An adapter maps the *new* model's (source) vectors into the *old* model's (target) space, so
the old index can answer new-model queries while the re-embed runs, or after the old model can
no longer embed queries. It is trained on documents that both columns embedded from the same
text (their ``src__`` hashes must agree row by row), on a random sample, never on queries.

Stored in the workspace table ``wb_adapters``, one row per artifact, parameters as ``.npz``
bytes. Its fingerprint is a sha256 over both pins, both columns, the corpus digest, the options
and the parameter bytes; loading re-checks it. The id is ``<kind>-<fingerprint[:12]>``, so
fitting the same thing twice stores it once.

Example:
    >>> adapter = fit_adapter(ws, source="minilm-l6", target="minilm-l3", kind="procrustes")  # doctest: +SKIP
    >>> adapter.id, adapter.version  # doctest: +SKIP
    ('procrustes-3f9a0c1d2e4b', 1)
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.contract import ADAPTERS_TABLE, adapters_schema
from workbench.decide.adapters.maps import KINDS, AdapterKind, AdapterMap, fit_map
from workbench.errors import CorruptStateError, DataError, InvalidArgumentError, NotFoundError
from workbench.models.ref import ModelRef
from workbench.store.status import corpus_digest
from workbench.store.workspace import VectorColumn, Workspace

if TYPE_CHECKING:
    from lancedb.table import Table

__all__ = ["Adapter", "fit_adapter", "list_adapters", "load_adapter", "paired_vectors"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Adapter:
    """A fitted Drift-Adapter and exactly what it was fitted on.

    Attributes:
        id: ``<kind>-<fingerprint[:12]>``.
        kind: ``procrustes``, ``affine`` or ``mlp``.
        version: 1 for the first adapter of this kind between these two columns, then 2, ...
        table: The corpus table both columns belong to.
        source_column: The new model's column (queries are encoded by its pin).
        target_column: The old model's column (searched).
        source_pin: The new model's pin; serving refuses any other model.
        target_pin: The old model's pin; serving refuses a production column of another pin.
        corpus_digest: Digest of the corpus the training documents came from.
        table_version: The table version the vectors were read at.
        n_train: Documents the map was fitted on (a random sample, ``seed``).
        n_heldout: Documents held out to measure the fit.
        fit_cosine: Mean cosine between mapped and true old vectors: ``train`` and ``heldout``.
        options: The fitting options (rank, ridge, hidden, epochs).
        created_at: ISO 8601, UTC.
        map: The fitted map.
        fingerprint: sha256 over all of the above that defines the artifact and the parameters.
    """

    id: str
    kind: AdapterKind
    version: int
    table: str
    source_column: str
    target_column: str
    source_pin: ModelRef
    target_pin: ModelRef
    corpus_digest: str
    table_version: int
    n_train: int
    n_heldout: int
    seed: int
    fit_cosine: dict[str, float]
    options: dict[str, Any]
    created_at: str
    map: AdapterMap
    fingerprint: str

    def manifest(self) -> dict[str, Any]:
        """Everything but the parameters, as JSON-ready data."""
        return {
            "id": self.id,
            "kind": self.kind,
            "version": self.version,
            "table": self.table,
            "source_column": self.source_column,
            "target_column": self.target_column,
            "source_pin": self.source_pin.model_dump(),
            "target_pin": self.target_pin.model_dump(),
            "corpus_digest": self.corpus_digest,
            "table_version": self.table_version,
            "n_train": self.n_train,
            "n_heldout": self.n_heldout,
            "seed": self.seed,
            "fit_cosine": self.fit_cosine,
            "options": self.options,
            "created_at": self.created_at,
            "fingerprint": self.fingerprint,
        }


def fit_adapter(
    ws: Workspace,
    *,
    source: str,
    target: str,
    kind: AdapterKind = "procrustes",
    table: str | None = None,
    target_table: str | None = None,
    sample: int = 20_000,
    heldout: float = 0.1,
    seed: int = 0,
    rank: int = 64,
    ridge: float = 1e-2,
    hidden: int = 256,
    epochs: int = 40,
    store: bool = True,
) -> Adapter:
    """Fit a map from ``source`` (new model) vectors into ``target`` (old model) space and store it.

    Args:
        ws: The workspace.
        source: The new model's column (alias or column name).
        target: The old model's column.
        kind: ``procrustes``, ``affine`` (low-rank, ``rank``, ``ridge``) or ``mlp`` (``hidden``,
            ``epochs``).
        table: The corpus table (default: the only one).
        target_table: Where ``target`` lives, if another table; its corpus must be the same.
        sample: Documents to fit on at most (a random sample; the rest is unused).
        heldout: Share of the sample held out to measure the fit.
        seed: Seed of the sample and of the MLP.
        store: Save the artifact in ``wb_adapters``.

    Raises:
        InvalidArgumentError: the same column twice, a bad kind, sample or heldout.
        DataError: the columns come from different corpora, or their vectors were computed from
            different text for some documents (their digests differ); nothing is written.
        NotFoundError: a table or column does not exist.
    """
    if source == target:
        raise InvalidArgumentError(
            f"source and target are both {source!r}; an adapter maps between two models"
        )
    if kind not in KINDS:
        raise InvalidArgumentError(f"unknown adapter kind {kind!r}; allowed: {', '.join(KINDS)}")
    if sample < 2 or not 0 <= heldout < 1:
        raise InvalidArgumentError(f"need sample >= 2 and 0 <= heldout < 1, got {sample}, {heldout}")
    name = table or ws.default_table()
    handle = ws.table(name)
    handle.checkout(handle.version)
    columns = _columns(ws, handle, source, target, target_table)
    ids, x, y = paired_vectors(handle, columns[0], columns[1])
    rng = np.random.default_rng(seed)
    picked = rng.permutation(len(ids))[: min(sample, len(ids))]
    n_held = round(len(picked) * heldout)
    train, held = picked[n_held:], picked[:n_held]
    options = (
        {"rank": rank, "ridge": ridge, "hidden": hidden, "epochs": epochs} if kind != "procrustes" else {}
    )
    fitted = fit_map(
        x[train], y[train], kind=kind, rank=rank, ridge=ridge, hidden=hidden, epochs=epochs, seed=seed
    )
    fit_cosine = {"train": _cosine(fitted, x[train], y[train]), "heldout": _cosine(fitted, x[held], y[held])}
    digest = corpus_digest(handle)
    identity = {
        "kind": kind,
        "table": name,
        "source_column": columns[0].name,
        "target_column": columns[1].name,
        "source_pin": columns[0].ref.model_dump(),
        "target_pin": columns[1].ref.model_dump(),
        "corpus_digest": digest,
        "n_train": len(train),
        "seed": seed,
        "options": options,
    }
    fingerprint = _fingerprint(identity, fitted)
    adapter = Adapter(
        id=f"{kind}-{fingerprint[:12]}",
        kind=kind,
        version=_next_version(ws, name, columns[0].name, columns[1].name, kind, fingerprint),
        table=name,
        source_column=columns[0].name,
        target_column=columns[1].name,
        source_pin=columns[0].ref,
        target_pin=columns[1].ref,
        corpus_digest=digest,
        table_version=int(handle.version),
        n_train=len(train),
        n_heldout=len(held),
        seed=seed,
        fit_cosine=fit_cosine,
        options=options,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        map=fitted,
        fingerprint=fingerprint,
    )
    if store:
        _save(ws, adapter)
    return adapter


def paired_vectors(
    table: Table, source: VectorColumn, target: VectorColumn
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids and both vectors of every document embedded by both columns from the same text.

    Raises:
        DataError: some document's two vectors were computed from different text (the
            ``src__`` hashes differ), or no document has both.
    """
    data = table.to_lance().to_table(
        columns=["id", "content_hash", source.name, source.src_column, target.name, target.src_column],
        filter=f"{source.name} IS NOT NULL AND {target.name} IS NOT NULL",
    )
    src_a, src_b = data.column(source.src_column), data.column(target.src_column)
    differ = int(pc.sum(pc.cast(pc.not_equal(src_a, src_b), pa.int64())).as_py() or 0)
    stale = int(pc.sum(pc.cast(pc.not_equal(src_a, data.column("content_hash")), pa.int64())).as_py() or 0)
    if differ or stale:
        raise DataError(
            f"{source.name} and {target.name} were computed from different text for {max(differ, stale)} "
            "documents (their digests differ): an adapter needs the same documents embedded by both. "
            "Re-embed the changed documents (ingest dual-writes them), then fit again"
        )
    if data.num_rows == 0:
        raise DataError(f"no document has vectors in both {source.name} and {target.name}")
    ids = data.column("id").to_numpy(zero_copy_only=False).astype(object)
    return ids, _matrix(data, source.name), _matrix(data, target.name)


def list_adapters(ws: Workspace, *, table: str | None = None) -> list[dict[str, Any]]:
    """One summary per stored adapter (no parameters), oldest first."""
    if not ws.has_table(ADAPTERS_TABLE):
        return []
    rows = ws.db.open_table(ADAPTERS_TABLE).to_arrow().drop_columns(["params", "manifest_json"]).to_pylist()
    return sorted((r for r in rows if table is None or r["table"] == table), key=lambda r: r["created_at"])


def load_adapter(ws: Workspace, adapter_id: str) -> Adapter:
    """A stored adapter by id, its fingerprint re-checked.

    Raises:
        NotFoundError: no such adapter (the message lists the ids there are).
        CorruptStateError: the stored parameters or manifest no longer match the fingerprint.
    """
    known = [r["id"] for r in list_adapters(ws)]
    if adapter_id not in known:
        raise NotFoundError(
            f"no adapter {adapter_id!r}; adapters: "
            f"{', '.join(known) or 'none — fit one with `workbench adapter fit`'}"
        )
    escaped = adapter_id.replace("'", "''")
    row = ws.db.open_table(ADAPTERS_TABLE).search().where(f"id = '{escaped}'").limit(1).to_list()[0]
    manifest = json.loads(row["manifest_json"])
    with np.load(io.BytesIO(row["params"])) as arrays:
        fitted = AdapterMap(manifest["kind"], {k: arrays[k] for k in arrays.files})
    identity = {k: manifest[k] for k in _IDENTITY}
    if _fingerprint(identity, fitted) != manifest["fingerprint"]:
        raise CorruptStateError(
            f"adapter {adapter_id} does not match its fingerprint: its stored parameters or manifest "
            "changed. Fit it again (`workbench adapter fit`)"
        )
    return Adapter(
        **{k: manifest[k] for k in manifest if k not in ("source_pin", "target_pin")},
        source_pin=ModelRef(**manifest["source_pin"]),
        target_pin=ModelRef(**manifest["target_pin"]),
        map=fitted,
    )


_IDENTITY = (
    "kind",
    "table",
    "source_column",
    "target_column",
    "source_pin",
    "target_pin",
    "corpus_digest",
    "n_train",
    "seed",
    "options",
)


def _columns(
    ws: Workspace, handle: Table, source: str, target: str, target_table: str | None
) -> tuple[VectorColumn, VectorColumn]:
    first = ws.resolve_column(handle, source)
    if target_table is not None and target_table != handle.name:
        other = ws.table(target_table)
        if corpus_digest(other) != corpus_digest(handle):
            raise DataError(
                f"{source!r} is in table {handle.name!r} and {target!r} in {target_table!r}, whose corpora "
                "differ: an adapter is fitted on the same documents embedded by both models. Embed both "
                "models into one table"
            )
        raise InvalidArgumentError(
            f"tables {handle.name!r} and {target_table!r} hold the same corpus, but an adapter is fitted "
            f"within one table: embed {target!r} into {handle.name!r}"
        )
    second = ws.resolve_column(handle, target)
    if first.name == second.name:
        raise InvalidArgumentError(f"{source!r} and {target!r} are the same column ({first.name})")
    return first, second


def _matrix(data: pa.Table, column: str) -> np.ndarray:
    dim = data.schema.field(column).type.list_size
    flat = data.column(column).combine_chunks().flatten().to_numpy()
    return np.ascontiguousarray(flat.reshape(-1, dim), dtype=np.float32)


def _cosine(fitted: AdapterMap, x: np.ndarray, y: np.ndarray) -> float:
    if len(x) == 0:
        return float("nan")
    mapped = fitted.apply(x)
    truth = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    return float(np.mean(np.sum(mapped * truth, axis=1)))


def _fingerprint(identity: dict[str, Any], fitted: AdapterMap) -> str:
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode())
    for name in sorted(fitted.params):
        array = np.ascontiguousarray(fitted.params[name], dtype=np.float32)
        digest.update(f"{name}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _next_version(ws: Workspace, table: str, source: str, target: str, kind: str, fingerprint: str) -> int:
    same = [
        r
        for r in list_adapters(ws, table=table)
        if (r["source_column"], r["target_column"], r["kind"]) == (source, target, kind)
    ]
    existing = [r["version"] for r in same if r["fingerprint"] == fingerprint]
    return int(existing[0]) if existing else len(same) + 1


def _save(ws: Workspace, adapter: Adapter) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **adapter.map.params)  # type: ignore[arg-type]  # numpy's stub types **kwds oddly
    row = pa.table(
        {
            "id": [adapter.id],
            "kind": [adapter.kind],
            "version": [adapter.version],
            "table": [adapter.table],
            "source_column": [adapter.source_column],
            "target_column": [adapter.target_column],
            "fingerprint": [adapter.fingerprint],
            "created_at": [adapter.created_at],
            "manifest_json": [json.dumps(adapter.manifest(), sort_keys=True)],
            "params": [buffer.getvalue()],
        },
        schema=adapters_schema(),
    )
    if not ws.has_table(ADAPTERS_TABLE):
        ws.db.create_table(ADAPTERS_TABLE, row)
    else:
        handle = ws.db.open_table(ADAPTERS_TABLE)
        handle.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(row)
    log.info("stored adapter %s (v%d)", adapter.id, adapter.version)
