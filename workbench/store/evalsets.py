"""Eval sets: named, labelled (or unlabelled) queries against one corpus table.

Stored in the workspace table ``wb_eval_sets``, one row per eval set (its latest version),
written with one ``merge_insert`` so that replacing an eval set is a single atomic version.

Eval sets change: new judgements are added (see :mod:`workbench.comparison.judging`) or a
collection is re-ingested. Every content an eval set ever had is kept in
``wb_eval_set_versions`` (version number, who, when, why), so a comparison — which records
the eval-set hash it ran on — stays reproducible after the eval set moved on. The history is
written before the latest row: a crash between the two is finished by saving again.

An eval set belongs to the table it was made for: saving one under a name another table's eval
set holds is refused (never a silent rebind). Every recorded version stays reachable by name,
as ``NAME@VERSION`` (``demo@2``) wherever an eval set is named.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict

import pyarrow as pa

from workbench.contract import (
    EVAL_SET_VERSIONS_TABLE,
    EVAL_SETS_TABLE,
    eval_set_versions_schema,
    eval_sets_schema,
)
from workbench.corpus.readers import Qrels
from workbench.errors import InvalidArgumentError, NotFoundError
from workbench.store.records import append_records, read_records, upsert_records

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

__all__ = [
    "EvalSet",
    "EvalSetSummary",
    "check_eval_set_table",
    "eval_set_versions",
    "list_eval_sets",
    "load_eval_set",
    "save_eval_set",
    "split_eval_set_ref",
]

_VERSION = re.compile(r"^[vV]?([0-9]{1,9})\Z")


class EvalSetSummary(TypedDict):
    """One row of :func:`list_eval_sets`: an eval set without its queries and qrels."""

    name: str
    table: str
    created_at: str
    content_hash: str
    n_queries: int
    n_judged: int
    version: int


@dataclass(frozen=True)
class EvalSet:
    """Queries (``{id: text}``) and graded qrels (``{qid: {doc_id: grade}}``) for one table.

    ``metadata`` maps a query id to its segments (``{"language": "de", "topic": "health"}``),
    read from ``queries.jsonl``'s ``metadata`` objects; ``compare`` reports every metric per
    segment of each key.
    """

    name: str
    table: str
    queries: dict[str, str]
    qrels: Qrels = field(default_factory=dict)
    created_at: str = ""
    version: int = 1
    """1 for an eval set as ingested; each recorded change adds one."""
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    """Query id → segment key → value (queries without metadata are absent)."""

    @property
    def content_hash(self) -> str:
        """sha256 over the canonical queries, qrels (and metadata, when there is some): identifies
        exactly what was evaluated; an eval set without metadata keeps the hash it always had."""
        parts: list[object] = [self.queries, self.qrels]
        if self.metadata:
            parts.append(self.metadata)
        blob = json.dumps(parts, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @property
    def segment_keys(self) -> list[str]:
        """The metadata keys any query carries, sorted."""
        return sorted({key for values in self.metadata.values() for key in values})

    @property
    def n_judgements(self) -> int:
        """Judgements of any grade (0 included): what judged@k counts."""
        return sum(len(j) for j in self.qrels.values())

    @property
    def judged_queries(self) -> list[str]:
        """Query ids with at least one relevant (grade > 0) judgement."""
        return sorted(
            q for q, j in self.qrels.items() if q in self.queries and any(g > 0 for g in j.values())
        )


def save_eval_set(ws: Workspace, eval_set: EvalSet, *, author: str = "", note: str = "") -> EvalSet:
    """Create or replace an eval set (one LanceDB version); a replacement becomes a new version.

    Args:
        ws: The workspace.
        eval_set: Name, table, queries, qrels.
        author: Who made this content (recorded in the history when it replaces another).
        note: Why (likewise).
    """
    if not eval_set.queries:
        raise InvalidArgumentError(f"eval set {eval_set.name!r} has no queries")
    check_eval_set_table(ws, eval_set.name, eval_set.table)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    metadata = {q: dict(m) for q, m in eval_set.metadata.items() if q in eval_set.queries and m}
    stamped = EvalSet(eval_set.name, eval_set.table, eval_set.queries, eval_set.qrels, now, metadata=metadata)
    previous = _latest(ws, eval_set.name)
    version = 1
    if previous is not None and previous.content_hash != stamped.content_hash:
        version = _record_change(ws, previous, stamped, author=author, note=note)
    stamped = replace(stamped, version=version)
    row = pa.table(
        {
            "name": [stamped.name],
            "table": [stamped.table],
            "created_at": [stamped.created_at],
            "content_hash": [stamped.content_hash],
            "n_queries": [len(stamped.queries)],
            "n_judged": [len(stamped.judged_queries)],
            "queries_json": [json.dumps(stamped.queries, ensure_ascii=False)],
            "qrels_json": [json.dumps(stamped.qrels, ensure_ascii=False)],
            "metadata_json": [_metadata_json(stamped)],
        },
        schema=eval_sets_schema(),
    )
    upsert_records(ws, EVAL_SETS_TABLE, row, key="name")
    return stamped


def check_eval_set_table(ws: Workspace, name: str, table: str) -> None:
    """Refuse to save eval set ``name`` for ``table`` when that name belongs to another table.

    Ingest calls this before it writes anything, so a colliding name writes nothing at all.

    Raises:
        InvalidArgumentError: the name is taken by an eval set of another table.
    """
    existing = read_records(ws, EVAL_SETS_TABLE, columns=["table"], equals={"name": name})
    owners = existing.column("table").to_pylist() if existing is not None else []
    if owners and owners[0] != table:
        raise InvalidArgumentError(
            f"eval set {name!r} belongs to table {owners[0]!r}; name this one with --eval-set NAME "
            f"(eval_set= in the library): an eval set is never moved to another table"
        )


def split_eval_set_ref(ref: str) -> tuple[str, int | None]:
    """``"demo@2"`` (or ``"demo@v2"``) → ``("demo", 2)``; ``"demo"`` → ``("demo", None)``.

    An eval set name never holds ``@`` (ingest refuses it), so the split is unambiguous.

    Raises:
        InvalidArgumentError: what follows ``@`` is not a version number.
    """
    name, at, version = ref.partition("@")
    if not at:
        return ref, None
    match = _VERSION.match(version)
    if match is None:
        raise InvalidArgumentError(
            f"eval set reference {ref!r}: after '@' comes a version number such as {name}@2 "
            f"(`workbench status` lists each eval set's versions)"
        )
    return name, int(match.group(1))


def eval_set_versions(ws: Workspace, name: str) -> list[dict[str, object]]:
    """The recorded versions of one eval set, oldest first (empty if it never changed).

    Each: version, created_at, author, note, content_hash, n_queries, n_judged, n_judgements.
    """
    columns = [f.name for f in eval_set_versions_schema() if not f.name.endswith("_json")]
    data = read_records(ws, EVAL_SET_VERSIONS_TABLE, columns=columns, equals={"name": name})
    return sorted(data.to_pylist() if data is not None else [], key=lambda r: r["version"])


def _record_change(ws: Workspace, previous: EvalSet, new: EvalSet, *, author: str, note: str) -> int:
    """Append ``new`` (and, the first time, ``previous`` as version 1) to the history."""
    versions = eval_set_versions(ws, new.name)
    rows = []
    if not versions:
        rows.append(_history_row(replace(previous, version=1), author="", note="as first stored"))
        versions = [{"version": 1, "content_hash": previous.content_hash}]
    last = versions[-1]
    if last["content_hash"] == new.content_hash:  # recorded before a crash: finish, do not repeat
        return int(last["version"])  # type: ignore[call-overload]
    version = int(last["version"]) + 1  # type: ignore[call-overload]
    rows.append(_history_row(replace(new, version=version), author=author, note=note))
    data = pa.Table.from_pylist(rows, schema=eval_set_versions_schema())
    append_records(ws, EVAL_SET_VERSIONS_TABLE, data)
    return version


def _history_row(es: EvalSet, *, author: str, note: str) -> dict[str, object]:
    return {
        "name": es.name,
        "version": es.version,
        "table": es.table,
        "created_at": es.created_at,
        "author": author,
        "note": note,
        "content_hash": es.content_hash,
        "n_queries": len(es.queries),
        "n_judged": len(es.judged_queries),
        "n_judgements": es.n_judgements,
        "queries_json": json.dumps(es.queries, ensure_ascii=False),
        "qrels_json": json.dumps(es.qrels, ensure_ascii=False),
        "metadata_json": _metadata_json(es),
    }


def _metadata_json(es: EvalSet) -> str | None:
    return json.dumps(es.metadata, ensure_ascii=False) if es.metadata else None


def list_eval_sets(ws: Workspace, *, table: str | None = None) -> list[EvalSetSummary]:
    """One summary dict per eval set (name, table, counts, hash, created_at, version), by name.

    Args:
        ws: The workspace.
        table: Only the eval sets of this corpus table.
    """
    columns = [f.name for f in eval_sets_schema() if not f.name.endswith("_json")]
    data = read_records(ws, EVAL_SETS_TABLE, columns=columns)
    rows = data.to_pylist() if data is not None else []
    recorded = _recorded_versions(ws)
    found = [
        EvalSetSummary(**r, version=recorded.get((r["name"], r["content_hash"]), 1))  # type: ignore[typeddict-item]
        for r in rows
        if table is None or r["table"] == table
    ]
    return sorted(found, key=lambda r: r["name"])


def _recorded_versions(ws: Workspace) -> dict[tuple[str, str], int]:
    data = read_records(ws, EVAL_SET_VERSIONS_TABLE, columns=["name", "content_hash", "version"])
    rows = data.to_pylist() if data is not None else []
    return {(r["name"], r["content_hash"]): int(r["version"]) for r in rows}


def load_eval_set(
    ws: Workspace, name: str, *, version: int | None = None, content_hash: str | None = None
) -> EvalSet:
    """An eval set by name: its latest version, or an exact earlier one.

    Args:
        ws: The workspace.
        name: The eval set, or ``NAME@VERSION`` for a recorded version (``demo@1``).
        version: A recorded version number (see :func:`eval_set_versions`).
        content_hash: The hash a comparison's manifest recorded (``eval_set_hash``).

    Raises:
        NotFoundError: no such eval set (the message lists them), or no such version (the
            message lists the versions there are).
        InvalidArgumentError: ``NAME@X`` where X is not a version number.
    """
    name, at_version = split_eval_set_ref(name)
    if at_version is not None:
        if version is not None and version != at_version:
            raise InvalidArgumentError(f"eval set {name!r}: version {version} and @{at_version} disagree")
        version = at_version
    latest = _latest(ws, name)
    if latest is None:
        known = [str(r["name"]) for r in list_eval_sets(ws)]
        raise NotFoundError(
            f"no eval set {name!r} in workspace {ws.uri!r}; eval sets: "
            f"{', '.join(known) or 'none — ingest a BEIR folder with queries and qrels'}"
        )
    versions = eval_set_versions(ws, name)
    current = next((int(v["version"]) for v in versions if v["content_hash"] == latest.content_hash), 1)  # type: ignore[call-overload]
    latest = replace(latest, version=current)
    if version is None and content_hash is None:
        return latest
    if (version in (None, current)) and (content_hash in (None, latest.content_hash)):
        return latest
    for row in versions:
        if (version is None or row["version"] == version) and (
            content_hash is None or row["content_hash"] == content_hash
        ):
            return _from_history(ws, name, int(row["version"]))  # type: ignore[call-overload]
    numbers = [int(v["version"]) for v in versions] or [current]  # type: ignore[call-overload]
    listed = ", ".join(f"v{n}" + (" (latest)" if n == current else "") for n in numbers)
    if version is not None and content_hash is None:
        raise NotFoundError(
            f"eval set {name!r} has no version {version}; versions: {listed} (name one as {name}@N)"
        )
    recorded = ", ".join(f"v{v['version']} ({str(v['content_hash'])[:12]})" for v in versions) or listed
    wanted = f"version {version} with " if version is not None else ""
    raise NotFoundError(
        f"eval set {name!r} has no {wanted}content hash {content_hash!r}; recorded: {recorded}"
    )


def _latest(ws: Workspace, name: str) -> EvalSet | None:
    data = read_records(ws, EVAL_SETS_TABLE, equals={"name": name})
    rows = data.to_pylist() if data is not None else []
    return _eval_set(rows[0]) if rows else None


def _from_history(ws: Workspace, name: str, version: int) -> EvalSet:
    data = read_records(ws, EVAL_SET_VERSIONS_TABLE, equals={"name": name})
    rows = [r for r in (data.to_pylist() if data is not None else []) if r["version"] == version]
    return replace(_eval_set(rows[0]), version=version)


def _eval_set(row: dict[str, object]) -> EvalSet:
    return EvalSet(
        name=str(row["name"]),
        table=str(row["table"]),
        queries=json.loads(str(row["queries_json"])),
        qrels={q: {d: int(g) for d, g in j.items()} for q, j in json.loads(str(row["qrels_json"])).items()},
        created_at=str(row["created_at"]),
        metadata=json.loads(str(row["metadata_json"])) if row.get("metadata_json") else {},
    )
