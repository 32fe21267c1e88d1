"""The storage contract: every name, key, tag and schema the workbench writes into LanceDB.

One module owns the on-disk layout so that every reader (library, app, notebooks) parses it the
same way. A corpus table has ``id``, ``title``, ``text``, ``content_hash`` and, per pinned model,
a vector column ``vec__<slug>__<fp8>`` (its field metadata carries the pin) with a companion
``src__<slug>__<fp8>`` column holding the ``content_hash`` each vector was computed from. The
workbench's own tables start with ``wb_``. Production is the ``production`` tag; each move also
writes a numbered tag ``production-<n>`` (a rollback renames the one it undoes to
``rolled-back-<n>``; a retirement in progress holds ``retiring-<column>``); a new column's first
version is tagged ``candidate-<column>``.

This module imports nothing else from the workbench, so any layer may use it.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DEFAULT_WORKSPACE",
    "META_ACTIVE",
    "META_CANARIES",
    "META_CREATED",
    "META_INDEX",
    "META_MODEL",
    "META_PROMOTION",
    "META_SRC",
    "META_USAGE",
    "META_VERSIONS",
    "PRODUCTION_TAG",
    "RESERVED_PREFIX",
    "STATE_DIR",
    "VECTOR_COLUMN_IN_TEXT",
    "ColumnName",
    "candidate_tag",
    "content_hash",
    "corpus_schema",
    "document_text",
    "parse_column",
    "parse_production_tag",
    "parse_retiring_tag",
    "parse_rolled_back_tag",
    "production_tag",
    "retiring_tag",
    "rolled_back_tag",
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
META_INDEX = "workbench:index"
"""Field metadata of a vector column: how its ANN index was built and is searched (JSON)."""
META_ACTIVE = "workbench:active_column"
"""Table metadata: the vector column production serves at this version."""
META_PROMOTION = "workbench:promotion"
"""Table metadata: the promotion record (JSON) that wrote this version: the intent of a promote
or refresh, so an interrupted one can be finished from the version alone."""

PRODUCTION_TAG = "production"
_PRODUCTION_NUMBERED = re.compile(rf"^{PRODUCTION_TAG}-(\d+)$")
_CANDIDATE_PREFIX = "candidate-"
_ROLLED_BACK_NUMBERED = re.compile(r"^rolled-back-(\d+)$")
_RETIRING_PREFIX = "retiring-"


_VECTOR_COLUMN = re.compile(r"^vec__(?P<slug>[a-z0-9_]+?)__(?P<fp>[0-9a-f]{8})$")
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
