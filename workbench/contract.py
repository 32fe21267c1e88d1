"""The storage contract: every name, key, tag and schema the workbench writes into LanceDB.

One module owns the on-disk layout so that every reader (library, app, notebooks) parses it the
same way. A corpus table has ``id``, ``title``, ``text``, ``content_hash`` and, per pinned model,
a vector column ``vec__<slug>__<fp8>`` (its field metadata carries the pin) with a companion
``src__<slug>__<fp8>`` column holding the ``content_hash`` each vector was computed from. The
workbench's own tables start with ``wb_``. Production is the ``production`` tag; each move also
writes a numbered tag ``production-<n>`` (a rollback renames the one it undoes to
``rolled-back-<n>``; a retirement in progress holds ``retiring-<column>``); a new column's first
version is tagged ``candidate-<column>``.

The record tables (eval sets and their versions, comparisons, promotions, monitor passes, the
query log, canaries and their checks, adapters) are named and shaped here too: each has a
``*_TABLE`` name and a ``*_schema()``; the modules that read and write them (in ``store/``,
``production/history.py``, ``decide/adapters/``) import both. ``tests/test_contract.py`` checks
that no other module spells a ``wb_`` name or a fixed table schema.

This module imports nothing else from the workbench, so any layer may use it; pyarrow is
imported only inside the functions that build types and schemas, so importing the contract
(every CLI command does) stays cheap.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ADAPTERS_TABLE",
    "ADDED_COLUMNS",
    "CANARIES_TABLE",
    "CANARY_CHECKS_TABLE",
    "CANDIDATE_WATCH_TABLE",
    "COMPARISONS_TABLE",
    "COMPARISON_FRAMES",
    "DEFAULT_WORKSPACE",
    "EVAL_SETS_TABLE",
    "EVAL_SET_VERSIONS_TABLE",
    "META_ACTIVE",
    "META_CANARIES",
    "META_CREATED",
    "META_INDEX",
    "META_MODEL",
    "META_PROGRESSIVE",
    "META_PROMOTION",
    "META_SRC",
    "META_USAGE",
    "META_VERSIONS",
    "MONITOR_TABLE",
    "PRODUCTION_TAG",
    "PROMOTIONS_TABLE",
    "QUERY_LOG_TABLE",
    "RECORD_TABLES",
    "RELOCATIONS_TABLE",
    "RESERVED_PREFIX",
    "ROLLOUTS_TABLE",
    "SHADOW_LOG_TABLE",
    "STATE_DIR",
    "VECTOR_COLUMN_IN_TEXT",
    "ColumnName",
    "adapters_schema",
    "canaries_schema",
    "canary_checks_schema",
    "candidate_tag",
    "candidate_watch_schema",
    "comparisons_schema",
    "content_hash",
    "corpus_schema",
    "document_text",
    "eval_set_versions_schema",
    "eval_sets_schema",
    "monitor_schema",
    "parse_column",
    "parse_production_tag",
    "parse_retiring_tag",
    "parse_rolled_back_tag",
    "production_tag",
    "promotions_schema",
    "query_log_schema",
    "relocations_schema",
    "retiring_tag",
    "rolled_back_tag",
    "rollouts_schema",
    "shadow_log_schema",
    "src_column_name",
    "vector_column_name",
    "vector_type",
]

STATE_DIR = "_workbench_state"
"""The folder inside a local workspace for the workbench's own state (checkpoints, staging, memos)."""

DEFAULT_WORKSPACE = "workspace"
"""The workspace folder used when none is given (relative to the working directory)."""

RESERVED_PREFIX = "wb_"
"""Tables whose names start with this are the workbench's own, never a corpus."""

EVAL_SETS_TABLE = "wb_eval_sets"
"""Record table: the latest version of each eval set, one row per name (:func:`eval_sets_schema`)."""
EVAL_SET_VERSIONS_TABLE = "wb_eval_set_versions"
"""Record table: every earlier version of every eval set (:func:`eval_set_versions_schema`)."""
COMPARISONS_TABLE = "wb_comparisons"
"""Record table: one row per stored comparison (:func:`comparisons_schema`)."""
PROMOTIONS_TABLE = "wb_promotions"
"""Record table: the audit history of production moves (:func:`promotions_schema`)."""
MONITOR_TABLE = "wb_monitor"
"""Record table: one row per monitoring pass (:func:`monitor_schema`)."""
QUERY_LOG_TABLE = "wb_query_log"
"""Record table: the sampled, size-bounded log of served queries (:func:`query_log_schema`)."""
CANARIES_TABLE = "wb_canaries"
"""Record table: per model fingerprint, the canary vectors it gave when pinned (:func:`canaries_schema`)."""
CANARY_CHECKS_TABLE = "wb_canary_checks"
"""Record table: the passing re-checks of a column's canaries (:func:`canary_checks_schema`)."""
ADAPTERS_TABLE = "wb_adapters"
"""Record table: fitted Drift-Adapters, versioned, with their parameters (:func:`adapters_schema`)."""
ROLLOUTS_TABLE = "wb_rollouts"
"""Record table: the versioned rollout steps of each table (:func:`rollouts_schema`)."""
SHADOW_LOG_TABLE = "wb_shadow_log"
"""Record table: live queries also run against a rollout's candidate (:func:`shadow_log_schema`)."""
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    EVAL_SETS_TABLE: ("metadata_json",),
    EVAL_SET_VERSIONS_TABLE: ("metadata_json",),
    QUERY_LOG_TABLE: ("ids",),
    ROLLOUTS_TABLE: ("merge", "old_scope"),
}
"""Record-table columns added after the table's first release (nullable): a table made before
them gets them, null, before its next write."""
RELOCATIONS_TABLE = "wb_relocations"
"""Record table: every verified move of a served model to a new location (:func:`relocations_schema`)."""
CANDIDATE_WATCH_TABLE = "wb_candidate_watch"
"""Record table: one row per re-evaluation of the candidates (:func:`candidate_watch_schema`)."""
RECORD_TABLES = (
    EVAL_SETS_TABLE,
    EVAL_SET_VERSIONS_TABLE,
    COMPARISONS_TABLE,
    PROMOTIONS_TABLE,
    MONITOR_TABLE,
    QUERY_LOG_TABLE,
    CANARIES_TABLE,
    CANARY_CHECKS_TABLE,
    ADAPTERS_TABLE,
    ROLLOUTS_TABLE,
    SHADOW_LOG_TABLE,
    RELOCATIONS_TABLE,
    CANDIDATE_WATCH_TABLE,
)
"""Every record table the workbench writes, all named with :data:`RESERVED_PREFIX`."""

COMPARISON_FRAMES = ("deltas", "per_query", "rankings", "documents", "thresholds")
"""The frames of a stored comparison, each kept as Parquet bytes in a ``<frame>_parquet`` column."""

META_MODEL = "workbench:model"
"""Field metadata of a vector column: the full pin (``ModelRef`` as JSON)."""
META_SRC = "workbench:src_column"
"""Field metadata of a vector column: the name of its ``src__`` column."""
META_CREATED = "workbench:created_at"
"""Field metadata of a vector column: when it was committed (ISO 8601, UTC)."""
META_VERSIONS = "workbench:library_versions"
"""Field metadata of a vector column: versions of the libraries that shaped it (JSON)."""
META_CANARIES = "workbench:canaries"
"""Field metadata of a vector column: the canary vectors its model gave when pinned (JSON)."""
META_USAGE = "workbench:usage"
"""Field metadata of a vector column of a served model: requests, tokens spent, estimated cost."""
META_PROGRESSIVE = "workbench:progressive"
"""Field metadata of a vector column being filled progressively (JSON: priority, coverage at the
last run's end). Absent on a whole column; rows not embedded yet are null in such a column."""
META_INDEX = "workbench:index"
"""Field metadata of a vector column: how its ANN index was built and is searched (JSON)."""
META_ACTIVE = "workbench:active_column"
"""Table metadata: the vector column production serves at this version."""
META_PROMOTION = "workbench:promotion"
"""Table metadata: the promotion record (JSON) that wrote this version: the intent of a promote
or refresh, so an interrupted one can be finished from the version alone."""

PRODUCTION_TAG = "production"
_PRODUCTION_NUMBERED = re.compile(rf"^{PRODUCTION_TAG}-(\d+)\Z")
_CANDIDATE_PREFIX = "candidate-"
_ROLLED_BACK_NUMBERED = re.compile(r"^rolled-back-(\d+)\Z")
_RETIRING_PREFIX = "retiring-"


_VECTOR_COLUMN = re.compile(r"^vec__(?P<slug>[a-z0-9_]+?)__(?P<fp>[0-9a-f]{8})\Z")
VECTOR_COLUMN_IN_TEXT = re.compile(r"\bvec__[a-z0-9_]+?__[0-9a-f]{8}\b")
"""Finds vector-column names inside free text (messages, reasons), for display."""


class ColumnName(NamedTuple):
    """A parsed vector-column name: the model slug and the first 8 hex digits of its fingerprint."""

    slug: str
    fingerprint8: str


def vector_column_name(slug: str, fingerprint: str) -> str:
    """The vector column one model (and only that model) writes: ``vec__<slug>__<fp8>``."""
    return f"vec__{slug}__{fingerprint[:8]}"


def src_column_name(slug: str, fingerprint: str) -> str:
    """The companion column holding the ``content_hash`` each vector was computed from."""
    return f"src__{slug}__{fingerprint[:8]}"


def parse_column(name: str) -> ColumnName | None:
    """Split ``vec__<slug>__<fp8>`` into its parts; ``None`` for any other name."""
    match = _VECTOR_COLUMN.match(name)
    return ColumnName(match["slug"], match["fp"]) if match else None


def candidate_tag(column: str) -> str:
    """The tag on the version where ``column`` first appeared."""
    return f"{_CANDIDATE_PREFIX}{column}"


def production_tag(number: int) -> str:
    """The numbered tag of the ``number``-th production move (kept for audit and rollback)."""
    return f"{PRODUCTION_TAG}-{number}"


def parse_production_tag(tag: str) -> int | None:
    """The move number of a numbered production tag; ``None`` for any other tag."""
    match = _PRODUCTION_NUMBERED.match(tag)
    return int(match.group(1)) if match else None


def rolled_back_tag(number: int) -> str:
    """The marker a rollback leaves for the move it undid (``production-<n>`` → ``rolled-back-<n>``).

    Creating it is the rollback's atomic claim: a second rollback of the same move fails there.
    """
    return f"rolled-back-{number}"


def parse_rolled_back_tag(tag: str) -> int | None:
    """The move number of a ``rolled-back-<n>`` marker; ``None`` for any other tag."""
    match = _ROLLED_BACK_NUMBERED.match(tag)
    return int(match.group(1)) if match else None


def retiring_tag(column: str) -> str:
    """The claim of a retirement in progress: on the last version that still holds ``column``."""
    return f"{_RETIRING_PREFIX}{column}"


def parse_retiring_tag(tag: str) -> str | None:
    """The column a ``retiring-<column>`` claim is for; ``None`` for any other tag."""
    return tag[len(_RETIRING_PREFIX) :] if tag.startswith(_RETIRING_PREFIX) else None


def vector_type(dim: int) -> pa.DataType:
    """A fixed-size float32 list: the only type LanceDB searches as a vector."""
    import pyarrow as pa

    return pa.list_(pa.float32(), dim)


def corpus_schema() -> pa.Schema:
    """The columns every corpus table starts with (vector columns are added beside them)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("title", pa.string()),
            pa.field("text", pa.string()),
            pa.field("content_hash", pa.string()),
        ]
    )


def document_text(title: str, text: str) -> str:
    """What a document model sees: ``title`` and ``text`` on two lines (title optional)."""
    return f"{title}\n{text}" if title else text


def content_hash(title: str, text: str) -> str:
    """sha256 of exactly what is embedded, so a changed row is detectable as stale."""
    return hashlib.sha256(document_text(title, text).encode("utf-8")).hexdigest()


# --- record tables: one fixed layout each (see RECORD_TABLES) -----------------------------------


def eval_sets_schema() -> pa.Schema:
    """:data:`EVAL_SETS_TABLE`: an eval set's queries, qrels and query metadata as JSON, plus counts.

    ``metadata_json`` (query id → {key: value}) was added later: a table written before it gets
    the column (null) on its next write (:data:`ADDED_COLUMNS`).
    """
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("name", pa.string(), nullable=False),
            pa.field("table", pa.string()),
            pa.field("created_at", pa.string()),
            pa.field("content_hash", pa.string()),
            pa.field("n_queries", pa.int64()),
            pa.field("n_judged", pa.int64()),
            pa.field("queries_json", pa.string()),
            pa.field("qrels_json", pa.string()),
            pa.field("metadata_json", pa.string()),
        ]
    )


def eval_set_versions_schema() -> pa.Schema:
    """:data:`EVAL_SET_VERSIONS_TABLE`: one row per (name, version), with who changed it and why."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("name", pa.string(), nullable=False),
            pa.field("version", pa.int64(), nullable=False),
            pa.field("table", pa.string()),
            pa.field("created_at", pa.string()),
            pa.field("author", pa.string()),
            pa.field("note", pa.string()),
            pa.field("content_hash", pa.string()),
            pa.field("n_queries", pa.int64()),
            pa.field("n_judged", pa.int64()),
            pa.field("n_judgements", pa.int64()),
            pa.field("queries_json", pa.string()),
            pa.field("qrels_json", pa.string()),
            pa.field("metadata_json", pa.string()),
        ]
    )


def comparisons_schema() -> pa.Schema:
    """:data:`COMPARISONS_TABLE`: headline columns for listing, the manifest, and the frames."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("created_at", pa.string()),
            pa.field("table", pa.string()),
            pa.field("baseline", pa.string()),
            pa.field("candidate", pa.string()),
            pa.field("eval_set", pa.string()),
            pa.field("headline_metric", pa.string()),
            pa.field("delta", pa.float64()),
            pa.field("ci_low", pa.float64()),
            pa.field("ci_high", pa.float64()),
            pa.field("p_value", pa.float64()),
            pa.field("n_judged", pa.int64()),
            pa.field("n_queries", pa.int64()),
            pa.field("summary", pa.string()),
            pa.field("manifest_json", pa.string()),
            pa.field("ks_json", pa.string()),
            *(pa.field(f"{name}_parquet", pa.large_binary()) for name in COMPARISON_FRAMES),
        ]
    )


def promotions_schema() -> pa.Schema:
    """:data:`PROMOTIONS_TABLE`: one row per production move (promote, rollback, refresh, retire, …)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("table", pa.string()),
            pa.field("seq", pa.int64()),
            pa.field("action", pa.string()),
            pa.field("at", pa.string()),
            pa.field("actor", pa.string()),
            pa.field("from_column", pa.string()),
            pa.field("to_column", pa.string()),
            pa.field("from_version", pa.int64()),
            pa.field("to_version", pa.int64()),
            pa.field("tag", pa.string()),
            pa.field("comparison_id", pa.string()),
            pa.field("gate_json", pa.string()),
            pa.field("forced", pa.bool_()),
            pa.field("initial", pa.bool_()),
            pa.field("reason", pa.string()),
        ]
    )


def monitor_schema() -> pa.Schema:
    """:data:`MONITOR_TABLE`: one row per monitoring pass (verdict, alarms, signals, actions as JSON)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("table", pa.string()),
            pa.field("seq", pa.int64()),
            pa.field("at", pa.string()),
            pa.field("production_version", pa.int64()),
            pa.field("column", pa.string()),
            pa.field("pin", pa.string()),
            pa.field("verdict", pa.string()),
            pa.field("alarms_json", pa.string()),
            pa.field("signals_json", pa.string()),
            pa.field("actions_json", pa.string()),
            pa.field("duration_s", pa.float64()),
        ]
    )


def query_log_schema() -> pa.Schema:
    """:data:`QUERY_LOG_TABLE`: one row per logged query (the text as written, hashed, or none)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("table", pa.string()),
            pa.field("at", pa.timestamp("us", tz="UTC")),
            pa.field("version", pa.int64()),
            pa.field("column", pa.string()),
            pa.field("query", pa.string()),
            pa.field("query_sha256", pa.string()),
            pa.field("scores", pa.list_(pa.float32())),
            pa.field("ids", pa.list_(pa.string())),
        ]
    )


def canaries_schema() -> pa.Schema:
    """:data:`CANARIES_TABLE`: one row per model fingerprint, the canary vectors as JSON."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("fingerprint", pa.string(), nullable=False),
            pa.field("model", pa.string()),
            pa.field("texts_sha256", pa.string()),
            pa.field("canaries_json", pa.string()),
            pa.field("created_at", pa.string()),
        ]
    )


def canary_checks_schema() -> pa.Schema:
    """:data:`CANARY_CHECKS_TABLE`: one row per passing canary re-check of a column."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("column", pa.string()),
            pa.field("model", pa.string()),
            pa.field("checked_at", pa.string()),
            pa.field("min_cosine", pa.float64()),
            pa.field("dim", pa.int64()),
            pa.field("seconds", pa.float64()),
            pa.field("context", pa.string()),
        ]
    )


def adapters_schema() -> pa.Schema:
    """:data:`ADAPTERS_TABLE`: one row per fitted adapter version; its parameters as bytes."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("kind", pa.string()),
            pa.field("version", pa.int64()),
            pa.field("table", pa.string()),
            pa.field("source_column", pa.string()),
            pa.field("target_column", pa.string()),
            pa.field("fingerprint", pa.string()),
            pa.field("created_at", pa.string()),
            pa.field("manifest_json", pa.string()),
            pa.field("params", pa.binary()),
        ]
    )


def rollouts_schema() -> pa.Schema:
    """:data:`ROLLOUTS_TABLE`: one row per rollout step of a table, numbered by ``seq``."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("table", pa.string(), nullable=False),
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("at", pa.timestamp("us", tz="UTC")),
            pa.field("actor", pa.string()),
            pa.field("action", pa.string()),
            pa.field("candidate", pa.string()),
            pa.field("version", pa.int64()),
            pa.field("production_column", pa.string()),
            pa.field("production_version", pa.int64()),
            pa.field("percent", pa.float64()),
            pa.field("sample", pa.float64()),
            pa.field("reason", pa.string()),
            pa.field("merge", pa.string()),
            pa.field("old_scope", pa.string()),
        ]
    )


def shadow_log_schema() -> pa.Schema:
    """:data:`SHADOW_LOG_TABLE`: one row per live query answered by production and run in the shadow."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("table", pa.string()),
            pa.field("at", pa.timestamp("us", tz="UTC")),
            pa.field("rollout", pa.int64()),
            pa.field("query", pa.string()),
            pa.field("query_sha256", pa.string()),
            pa.field("k", pa.int32()),
            pa.field("production_column", pa.string()),
            pa.field("production_version", pa.int64()),
            pa.field("candidate_column", pa.string()),
            pa.field("candidate_version", pa.int64()),
            pa.field("overlap", pa.float64()),
            pa.field("rbo", pa.float64()),
            pa.field("kendall_tau", pa.float64()),
            pa.field("production_ids", pa.list_(pa.string())),
            pa.field("candidate_ids", pa.list_(pa.string())),
            pa.field("production_scores", pa.list_(pa.float32())),
            pa.field("candidate_scores", pa.list_(pa.float32())),
            pa.field("production_ms", pa.float64()),
            pa.field("candidate_ms", pa.float64()),
        ]
    )


def relocations_schema() -> pa.Schema:
    """:data:`RELOCATIONS_TABLE`: one row per relocation of a served pin (who, when, from → to, canaries)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("fingerprint", pa.string(), nullable=False),
            pa.field("alias", pa.string()),
            pa.field("model", pa.string()),
            pa.field("source", pa.string()),
            pa.field("from_location", pa.string()),
            pa.field("to_location", pa.string()),
            pa.field("actor", pa.string()),
            pa.field("at", pa.string()),
            pa.field("min_cosine", pa.float64()),
            pa.field("dim", pa.int64()),
        ]
    )


def candidate_watch_schema() -> pa.Schema:
    """:data:`CANDIDATE_WATCH_TABLE`: one row per candidate re-evaluation (verdict, rows as JSON)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("table", pa.string()),
            pa.field("seq", pa.int64()),
            pa.field("at", pa.string()),
            pa.field("eval_set", pa.string()),
            pa.field("production", pa.string()),
            pa.field("metric", pa.string()),
            pa.field("margin", pa.float64()),
            pa.field("verdict", pa.string()),
            pa.field("summary", pa.string()),
            pa.field("rows_json", pa.string()),
        ]
    )
