"""One ANN index per vector column: build it, describe it, keep it current, search through it.

Real systems serve through an approximate index, so a vector column matters together with its
index. :func:`build_index` builds a LanceDB vector index on one column (cosine, since every
workbench column is searched by cosine) with defaults chosen from the row count and dimension
(:func:`default_spec`), and records in the column's field metadata (key
:data:`~workbench.contract.META_INDEX`) how it was built, how long it took and the search
parameters to use with it (``nprobes``, ``refine_factor``, ``ef``). Field metadata travels with
table versions, so the ``production`` tag pins the index *and* its search parameters, and a
rollback restores both.

:func:`describe_indexes` reads each column's index and its coverage (rows written since the
build are searched exactly beside the index until :func:`update_indexes` folds them in; ingest
calls it after a dual-write). :func:`search_query` applies a column's recorded parameters to a
LanceDB query; :func:`served_search` is the one query serving runs (through the index, or
LanceDB's flat search when there is none), which a comparison times to report latencies.

Example:
    >>> info = build_index(ws.table("demo"), ws.resolve_column(table, "minilm-l6"))  # doctest: +SKIP
    >>> info.unindexed_rows  # doctest: +SKIP
    0
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from workbench.contract import META_INDEX
from workbench.errors import DataError, InvalidArgumentError, NotFoundError
from workbench.progress import ProgressFn

if TYPE_CHECKING:
    import numpy as np
    from lancedb.query import LanceVectorQueryBuilder
    from lancedb.table import Table

    from workbench.store.view import ReadableTable
    from workbench.store.workspace import VectorColumn

__all__ = [
    "INDEX_TYPES",
    "IndexInfo",
    "IndexSpec",
    "IndexType",
    "build_index",
    "default_spec",
    "describe_indexes",
    "index_name",
    "search_query",
    "served_search",
    "tune_index",
    "update_indexes",
]

log = logging.getLogger(__name__)

IndexType = Literal["IVF_PQ", "IVF_HNSW_SQ", "IVF_FLAT"]
INDEX_TYPES: tuple[str, ...] = get_args(IndexType)
_LANCE_NAMES = {"IvfPq": "IVF_PQ", "IvfHnswSq": "IVF_HNSW_SQ", "IvfFlat": "IVF_FLAT"}
_PQ_MIN_ROWS = 256  # 8-bit product quantisation trains 256 centroids per sub-vector
_HNSW_UP_TO = 50_000  # below this a single HNSW graph builds in seconds and is near exact
_IVF_PARTITION_ROWS = 8_192
_HNSW_PARTITION_ROWS = 100_000
_REFINE_ROWS = 200_000  # one more 10× refine step per this many rows (see _refine_for)
_MAX_REFINE = 50


class IndexSpec(BaseModel):
    """How one column's index is built and searched.

    Attributes:
        index_type: ``IVF_PQ`` (compact, for large tables, with ``refine_factor`` re-ranking the
            candidates on the full vectors), ``IVF_HNSW_SQ`` (graph per partition, near exact)
            or ``IVF_FLAT``.
        num_partitions: IVF partitions (k-means clusters).
        num_sub_vectors: PQ sub-vectors (IVF_PQ only; must divide the dimension).
        m, ef_construction: HNSW graph degree and build beam (IVF_HNSW_SQ only).
        nprobes: Partitions searched per query.
        refine_factor: Re-rank ``refine_factor × k`` candidates on the full vectors (None: off).
        ef: HNSW search beam (IVF_HNSW_SQ only).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index_type: IndexType
    num_partitions: int
    num_sub_vectors: int | None = None
    m: int | None = None
    ef_construction: int | None = None
    nprobes: int
    refine_factor: int | None = None
    ef: int | None = None

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "index"
            raise InvalidArgumentError(
                f"index setting {where!r}: {first.get('msg')} (index types: {', '.join(INDEX_TYPES)})"
            ) from exc
        for name in (
            "num_partitions",
            "num_sub_vectors",
            "m",
            "ef_construction",
            "nprobes",
            "refine_factor",
            "ef",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidArgumentError(f"index setting {name!r} must be a positive integer, got {value}")

    def describe(self) -> str:
        """``IVF_PQ nprobes=16 refine_factor=10``: the type and its search parameters."""
        params = {"nprobes": self.nprobes, "refine_factor": self.refine_factor, "ef": self.ef}
        return " ".join([self.index_type, *(f"{k}={v}" for k, v in params.items() if v is not None)])


@dataclass(frozen=True)
class IndexInfo:
    """A column's index at one table version: what it is and how much of the column it covers.

    ``spec`` is None for an index the workbench did not build (or whose build was interrupted
    before its parameters were recorded): it is searched with LanceDB's defaults.
    """

    column: str
    name: str
    index_type: str
    indexed_rows: int
    unindexed_rows: int
    spec: IndexSpec | None
    built_at: str | None = None
    build_s: float | None = None

    def describe(self) -> str:
        """The index and its search parameters, as served: ``IVF_PQ nprobes=16 refine_factor=10``."""
        return self.spec.describe() if self.spec else f"{self.index_type} (LanceDB defaults)"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = None if self.spec is None else self.spec.model_dump()
        return data


def index_name(column: str) -> str:
    """The name of ``column``'s index (one per column)."""
    return f"{column}_idx"


def default_spec(
    rows: int, dim: int, index_type: IndexType | None = None, **overrides: int | None
) -> IndexSpec:
    """Parameters for ``rows`` vectors of ``dim`` dimensions; ``overrides`` replace any of them.

    Below 50k rows a single-partition IVF_HNSW_SQ (near exact, builds in seconds); above,
    IVF_PQ with about 8k rows per partition, a quarter of them probed (at least 16),
    ``dim / 8`` sub-vectors and a refine on the full vectors that grows with the table (10× up
    to 200k rows, 50× from 800k): recall@10 0.97 at 100k and 0.96 at 1M rows on real-structure
    vectors, p50 under 20 ms (``bench/bench_scale.py``).
    """
    kind = index_type or ("IVF_HNSW_SQ" if rows < _HNSW_UP_TO else "IVF_PQ")
    if kind not in INDEX_TYPES:
        raise InvalidArgumentError(f"unknown index type {kind!r}; choose one of {', '.join(INDEX_TYPES)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    base: dict[str, Any]
    if kind == "IVF_HNSW_SQ":
        partitions = given.get("num_partitions") or max(1, math.ceil(rows / _HNSW_PARTITION_ROWS))
        base = {"num_partitions": partitions, "m": 20, "ef_construction": 150, "nprobes": partitions}
        base.update(ef=64, refine_factor=2)
    else:
        default = max(1, min(rows // _PQ_MIN_ROWS, math.ceil(rows / _IVF_PARTITION_ROWS)))
        partitions = given.get("num_partitions") or default
        base = {"num_partitions": partitions, "nprobes": min(partitions, max(16, partitions // 4))}
        if kind == "IVF_PQ":
            base.update(num_sub_vectors=_sub_vectors(dim), refine_factor=_refine_for(rows))
    base.update(given)
    return IndexSpec(index_type=kind, **base)


def build_index(
    table: Table,
    column: VectorColumn,
    *,
    spec: IndexSpec | None = None,
    on_progress: ProgressFn | None = None,
) -> IndexInfo:
    """Build (or rebuild) the ANN index of one vector column and record how, in its metadata.

    Two table versions: the index, then the column metadata naming its parameters. A crash
    between them leaves an index without recorded parameters (searched with LanceDB's
    defaults); running the build again replaces it and records them.

    Args:
        table: The corpus table at its latest version.
        column: The vector column.
        spec: Build and search parameters (default: :func:`default_spec` for the table).
        on_progress: Called with ``(steps_done, 2)``: before the build, after it, after the record.

    Raises:
        DataError: the column has too few vectors for the index type.
        InvalidArgumentError: ``num_sub_vectors`` does not divide the dimension.
    """
    rows = table.count_rows()
    spec = spec or default_spec(rows, column.dim)
    _check_buildable(spec, rows, column)
    if on_progress is not None:
        on_progress(0, 2)
    tick = time.perf_counter()
    table.create_index(column.name, config=_lance_config(spec), name=index_name(column.name), replace=True)
    build_s = round(time.perf_counter() - tick, 3)
    if on_progress is not None:
        on_progress(1, 2)
    record = {"spec": spec.model_dump(), "built_at": _now(), "build_s": build_s, "rows": rows}
    table.to_lance().update_field_metadata({column.name: {META_INDEX: json.dumps(record, sort_keys=True)}})
    table.checkout_latest()
    if on_progress is not None:
        on_progress(2, 2)
    log.info("built %s on %s (%d rows) in %.1f s", spec.describe(), column.name, rows, build_s)
    return describe_indexes(table)[column.name]


def tune_index(
    table: Table,
    column: VectorColumn,
    *,
    nprobes: int | None = None,
    refine_factor: int | None = None,
    ef: int | None = None,
) -> IndexInfo:
    """Change the search parameters recorded for a column's index, without rebuilding it.

    One metadata-only table version; production serves the new parameters after a
    ``refresh`` (and a rollback restores the old ones, like any other recorded setting).

    Raises:
        NotFoundError: the column has no index (build one with :func:`build_index`).
        InvalidArgumentError: nothing to change, a parameter the index type does not use, or
            a value below 1.
    """
    info = describe_indexes(table).get(column.name)
    if info is None:
        raise NotFoundError(
            f"{column.name} has no index to tune; build one with `workbench index {column.name}`"
        )
    given = {"nprobes": nprobes, "refine_factor": refine_factor, "ef": ef}
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise InvalidArgumentError("nothing to tune: give --nprobes, --refine or --ef")
    if "ef" in changes and info.index_type != "IVF_HNSW_SQ":
        raise InvalidArgumentError(
            f"--ef is the HNSW search beam; the index of {column.name} is {info.index_type}"
        )
    base = info.spec or default_spec(info.indexed_rows + info.unindexed_rows, column.dim, info.index_type)  # type: ignore[arg-type]
    spec = IndexSpec(**{**base.model_dump(), **changes})
    raw = (table.schema.field(column.name).metadata or {}).get(META_INDEX.encode())
    record = json.loads(raw) if raw else {"built_at": None, "build_s": None}
    record.update(spec=spec.model_dump(), tuned_at=_now())
    table.to_lance().update_field_metadata({column.name: {META_INDEX: json.dumps(record, sort_keys=True)}})
    table.checkout_latest()
    log.info("tuned the index of %s: %s", column.name, spec.describe())
    return describe_indexes(table)[column.name]


def describe_indexes(table: ReadableTable) -> dict[str, IndexInfo]:
    """Every vector index of ``table`` at its checked-out version, by column (O(1) in rows).

    Read from the manifest through pylance (index descriptions and fragment lists), so a
    :class:`~workbench.store.view.TableView` works as well as a LanceDB table.
    """
    dataset = table.to_lance()
    found = {}
    meta = {f.name: (f.metadata or {}).get(META_INDEX.encode()) for f in table.schema}
    fragments: dict[int, int] | None = None
    for description in dataset.describe_indices():
        kind = _LANCE_NAMES.get(description.index_type, description.index_type)
        if kind not in INDEX_TYPES or len(description.field_names) != 1:
            continue  # scalar and full-text indexes are not vector indexes
        if fragments is None:
            fragments = {f.fragment_id: f.count_rows() for f in dataset.get_fragments()}
        covered: set[int] = set()
        for segment in description.segments:
            covered.update(int(i) for i in segment.fragment_ids)
        column = description.field_names[0]
        raw = meta.get(column)
        record = json.loads(raw) if raw else {}
        spec = IndexSpec(**record["spec"]) if record.get("spec") else None
        found[column] = IndexInfo(
            column=column,
            name=description.name,
            index_type=kind,
            indexed_rows=sum(n for i, n in fragments.items() if i in covered),
            unindexed_rows=sum(n for i, n in fragments.items() if i not in covered),
            spec=spec if spec is not None and spec.index_type == kind else None,
            built_at=record.get("built_at"),
            build_s=record.get("build_s"),
        )
    return found


def update_indexes(table: Table) -> list[str]:
    """Fold rows written since the last build into every vector index that lags (one version).

    Uses Lance's incremental index optimisation (new rows go into a delta, no retraining) and
    never compacts or cleans up versions, so tagged production versions are left alone.

    Returns:
        The columns whose index was updated.
    """
    lagging = [info for info in describe_indexes(table).values() if info.unindexed_rows]
    if not lagging:
        return []
    table.to_lance().optimize.optimize_indices(index_names=[info.name for info in lagging])
    table.checkout_latest()
    log.info("updated the index of %s", ", ".join(info.column for info in lagging))
    return [info.column for info in lagging]


def search_query(
    query: LanceVectorQueryBuilder, spec: IndexSpec | None, *, k: int
) -> LanceVectorQueryBuilder:
    """Apply a column's recorded search parameters to a LanceDB vector query for the top ``k``.

    HNSW needs a beam of at least the number of candidates it returns (``k``, times the
    refine factor), so ``ef`` is raised to that for deep queries.
    """
    if spec is None:
        return query.limit(k)
    query = query.nprobes(spec.nprobes)
    if spec.refine_factor is not None:
        query = query.refine_factor(spec.refine_factor)
    if spec.ef is not None:
        query = query.ef(max(spec.ef, k * (spec.refine_factor or 1)))
    return query.limit(k)


SERVED_COLUMNS = ("id", "title", "text", "_distance")
"""What a served search returns per hit."""


def served_search(
    table: Table,
    column: str,
    vector: np.ndarray,
    spec: IndexSpec | None,
    *,
    k: int,
    exact: bool = False,
    where: str | None = None,
) -> list[dict[str, Any]]:
    """One query exactly as serving runs it: the top ``k`` rows (``SERVED_COLUMNS``) of ``column``.

    Through the column's index with ``spec`` (its recorded parameters); with ``spec=None`` (no
    index) LanceDB's flat search, the exact path serving takes. ``exact=True`` bypasses an
    index: the flat search a deployment without the index would run. ``where``: a SQL filter
    applied before the vector search.
    """
    query = table.search(vector, vector_column_name=column)
    query = query.distance_type("cosine")  # type: ignore[attr-defined]  # search() gives the vector builder
    if where is not None:
        query = query.where(where, prefilter=True)
    query = query.bypass_vector_index().limit(k) if exact else search_query(query, spec, k=k)
    return query.select(list(SERVED_COLUMNS)).to_list()


def _lance_config(spec: IndexSpec) -> Any:
    from lancedb.index import HnswSq, IvfFlat, IvfPq

    if spec.index_type == "IVF_PQ":
        return IvfPq(
            distance_type="cosine", num_partitions=spec.num_partitions, num_sub_vectors=spec.num_sub_vectors
        )
    if spec.index_type == "IVF_HNSW_SQ":
        return HnswSq(
            distance_type="cosine",
            num_partitions=spec.num_partitions,
            m=spec.m or 20,
            ef_construction=spec.ef_construction or 300,
        )
    return IvfFlat(distance_type="cosine", num_partitions=spec.num_partitions)


def _check_buildable(spec: IndexSpec, rows: int, column: VectorColumn) -> None:
    if spec.index_type == "IVF_PQ" and rows < _PQ_MIN_ROWS:
        raise DataError(
            f"{column.name} has {rows} rows; IVF_PQ needs at least {_PQ_MIN_ROWS} to train its codebooks. "
            "Use --type IVF_HNSW_SQ, or keep searching this small table exactly"
        )
    if rows < spec.num_partitions:
        raise DataError(
            f"{column.name} has {rows} rows, fewer than the {spec.num_partitions} partitions asked for; "
            "lower --partitions"
        )
    if spec.num_sub_vectors is not None and column.dim % spec.num_sub_vectors:
        raise InvalidArgumentError(
            f"num_sub_vectors {spec.num_sub_vectors} does not divide the dimension {column.dim} of "
            f"{column.name}; choose a divisor such as {_sub_vectors(column.dim)}"
        )


def _refine_for(rows: int) -> int:
    """Candidates re-ranked on the full vectors, per result: more as the table gets denser.

    Product quantisation mis-orders neighbours within its error radius, and a denser table has
    more of them there: measured on real-structure vectors (``bench/bench_scale.py``), a 10×
    refine keeps recall@10 at 0.97 at 100k rows but 0.77 at 1M, where 50× keeps 0.96.
    """
    return min(_MAX_REFINE, max(10, 10 * math.ceil(rows / _REFINE_ROWS)))


def _sub_vectors(dim: int) -> int:
    """The largest divisor of ``dim`` not above ``dim / 8`` (8 dimensions per PQ code)."""
    for candidate in range(max(1, dim // 8), 0, -1):
        if dim % candidate == 0:
            return candidate
    return 1


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
