"""Reading corpora, queries and qrels: BEIR folders, JSONL, CSV, Parquet, TREC qrels.

Everything is validated before anything is written: a malformed JSON line is reported with
its line number, duplicate ids with both lines, empty text, bytes that are not UTF-8, qrels
that name unknown queries or documents, and an empty corpus.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from workbench.contract import corpus_schema
from workbench.corpus.parsing import check_encodable, file_records, required_str, text_lines, wrong_type
from workbench.corpus.stream import EMPTY_POLICIES, CorpusStream, EmptyPolicy, Fields
from workbench.errors import DataError, InvalidArgumentError

__all__ = [
    "QUERY_ID_FIELDS",
    "BeirLayout",
    "Collection",
    "Qrels",
    "QueryMetadata",
    "beir_layout",
    "check_empty_policy",
    "collection_name",
    "drop_judgements",
    "read_beir",
    "read_collection",
    "read_corpus",
    "read_qrels",
    "read_queries",
    "read_queries_with_metadata",
    "validate_qrels",
]

Qrels = dict[str, dict[str, int]]
QueryMetadata = dict[str, dict[str, str]]
"""Query id → segment key → value (``{"q1": {"language": "de"}}``)."""
log = logging.getLogger(__name__)

QUERY_ID_FIELDS = ("_id", "id", "query_id", "qid")


@dataclass
class Collection:
    """A validated corpus (as an Arrow table) with optional queries and qrels."""

    corpus: pa.Table
    queries: dict[str, str] = field(default_factory=dict)
    qrels: Qrels = field(default_factory=dict)
    name: str = "corpus"
    skipped: tuple[str, ...] = ()
    """Ids of documents left out because their text was empty (``on_empty="skip"``)."""
    titled: tuple[str, ...] = ()
    """Ids of documents whose empty text was replaced by their title (``on_empty="title"``)."""
    qrels_dropped: int = 0
    """Judgements dropped because they named a skipped document."""
    query_metadata: QueryMetadata = field(default_factory=dict)
    """Segments of the queries that carry ``metadata`` (see :func:`read_queries_with_metadata`)."""

    @property
    def report(self) -> str:
        """One line on what the empty-text policy did ("" when it did nothing)."""
        parts = []
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)} document(s) with empty text ({_sample(self.skipped)})")
        if self.titled:
            parts.append(f"embedded the title of {len(self.titled)} document(s) ({_sample(self.titled)})")
        if self.qrels_dropped:
            parts.append(f"dropped {self.qrels_dropped} judgement(s) of skipped documents")
        return "; ".join(parts)


def read_collection(
    path: str | Path,
    *,
    fields: Fields | None = None,
    split: str = "test",
    on_empty: EmptyPolicy = "error",
) -> Collection:
    """Read a BEIR folder or a single corpus file (``.jsonl``, ``.csv``, ``.parquet``).

    Args:
        path: The folder or file.
        fields: Input column names.
        split: Which ``qrels/<split>.tsv`` of a BEIR folder to read.
        on_empty: A document with empty text: ``"error"`` refuses the input, ``"skip"``
            leaves it out (and drops the judgements that name it), ``"title"`` embeds its
            title instead (and refuses it when the title is empty too).
    """
    path = Path(path)
    fields = fields or Fields()
    check_empty_policy(on_empty)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        return read_beir(path, fields=fields, split=split, on_empty=on_empty)
    corpus, skipped, titled = _read_corpus(path, fields, on_empty)
    return Collection(corpus=corpus, name=collection_name(path), skipped=skipped, titled=titled)


def check_empty_policy(on_empty: str) -> EmptyPolicy:
    """``on_empty`` itself, or an error listing the allowed policies."""
    if on_empty not in EMPTY_POLICIES:
        raise InvalidArgumentError(
            f"unknown empty-text policy {on_empty!r}; use one of: {', '.join(EMPTY_POLICIES)}"
        )
    return on_empty  # type: ignore[return-value]


def read_beir(
    folder: Path, *, fields: Fields | None = None, split: str = "test", on_empty: EmptyPolicy = "error"
) -> Collection:
    """A BEIR folder: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``."""
    layout = beir_layout(folder, split=split)
    corpus, skipped, titled = _read_corpus(layout.corpus, fields or Fields(), check_empty_policy(on_empty))
    qrels, dropped = layout.checked_qrels(set(corpus.column("id").to_pylist()), skipped)
    return Collection(
        corpus=corpus,
        queries=layout.queries,
        qrels=qrels,
        name=folder.name,
        skipped=skipped,
        titled=titled,
        qrels_dropped=dropped,
        query_metadata=layout.query_metadata,
    )


@dataclass(frozen=True)
class BeirLayout:
    """A BEIR folder's corpus file, its queries and qrels (read and checked), before the corpus."""

    corpus: Path
    queries: dict[str, str]
    qrels: Qrels
    qrels_file: Path | None
    query_metadata: QueryMetadata = field(default_factory=dict)

    @property
    def judged_documents(self) -> set[str]:
        return {d for judged in self.qrels.values() for d in judged}

    def checked_qrels(self, doc_ids: set[str], skipped: tuple[str, ...] | list[str]) -> tuple[Qrels, int]:
        """The qrels without the judgements of skipped documents (and how many went), validated
        against the corpus ids (``doc_ids`` needs to hold at least the judged ones)."""
        if self.qrels_file is None:
            return {}, 0
        qrels, dropped = drop_judgements(self.qrels, set(skipped))
        validate_qrels(qrels, self.queries, doc_ids, source=self.qrels_file)
        return qrels, dropped


def beir_layout(folder: Path, *, split: str = "test") -> BeirLayout:
    """Find a BEIR folder's files and read its queries and qrels (the corpus is left to stream)."""
    corpus_file = _first_existing(folder, ("corpus.jsonl", "corpus.csv", "corpus.parquet"))
    if corpus_file is None:
        raise DataError(f"{folder}: no corpus.jsonl (BEIR layout: corpus.jsonl, queries.jsonl, qrels/)")
    queries: dict[str, str] = {}
    metadata: QueryMetadata = {}
    qrels: Qrels = {}
    queries_file = _first_existing(folder, ("queries.jsonl", "queries.csv", "queries.tsv"))
    if queries_file is not None:
        queries, metadata = read_queries_with_metadata(queries_file)
    if not split or Path(split).name != split or split.startswith("."):
        raise InvalidArgumentError(f"split {split!r} is not a name; give a file name of qrels/ without .tsv")
    qrels_file = _first_existing(folder / "qrels", tuple(f"{split}{ext}" for ext in _QRELS_SUFFIXES))
    if qrels_file is None:
        _check_no_split(folder, split)
    else:
        if not queries:
            raise DataError(f"{qrels_file}: qrels given but {folder} has no queries.jsonl")
        qrels = read_qrels(qrels_file)
    return BeirLayout(corpus_file, queries, qrels, qrels_file, metadata)


_QRELS_SUFFIXES = (".tsv", ".txt", ".qrels")
_DEFAULT_SPLIT = "test"
"""The qrels split read by default; a BEIR folder without a ``qrels/`` folder is a corpus only."""


def _check_no_split(folder: Path, split: str) -> None:
    """Refuse a split that is not there, unless the folder has no qrels and none was asked for."""
    qrels = folder / "qrels"
    splits = sorted(
        {p.stem for p in qrels.iterdir() if p.is_file() and p.suffix in _QRELS_SUFFIXES}
        if qrels.is_dir()
        else set()
    )
    if not splits and split == _DEFAULT_SPLIT:
        return
    there = f"splits there: {', '.join(splits)}" if splits else f"{folder} has no qrels folder"
    raise DataError(
        f"{folder}: no qrels/{split}.tsv ({there}); pick a split with --split"
        + (f" (e.g. --split {splits[0]})" if splits else ", or leave --split out to ingest without qrels")
    )


def drop_judgements(qrels: Qrels, doc_ids: set[str]) -> tuple[Qrels, int]:
    """``qrels`` without the judgements of ``doc_ids`` (a query left with none is dropped too)."""
    if not doc_ids:
        return qrels, 0
    kept = {q: {d: g for d, g in judged.items() if d not in doc_ids} for q, judged in qrels.items()}
    dropped = sum(len(j) for j in qrels.values()) - sum(len(j) for j in kept.values())
    return {q: j for q, j in kept.items() if j}, dropped


def read_corpus(path: Path, *, fields: Fields | None = None, on_empty: EmptyPolicy = "error") -> pa.Table:
    """A corpus file as a validated Arrow table (``id``, ``title``, ``text``, ``content_hash``)."""
    return _read_corpus(path, fields or Fields(), check_empty_policy(on_empty))[0]


def _read_corpus(
    path: Path, fields: Fields, on_empty: EmptyPolicy
) -> tuple[pa.Table, tuple[str, ...], tuple[str, ...]]:
    """The whole corpus as one table, the ids skipped for empty text, and those given their title.

    For a corpus that fits in memory (an upload, a preview); ``ingest`` streams larger ones
    (see :class:`~workbench.corpus.stream.CorpusStream`).
    """
    stream = CorpusStream(path, fields, on_empty)
    table = pa.Table.from_batches(list(stream.batches()), schema=corpus_schema())
    return table, tuple(stream.skipped), tuple(stream.titled)


def read_queries(path: Path) -> dict[str, str]:
    """Queries as ``{query_id: text}`` from JSONL (BEIR), CSV or TSV (``id``, ``text``)."""
    return read_queries_with_metadata(path)[0]


def read_queries_with_metadata(path: Path) -> tuple[dict[str, str], QueryMetadata]:
    """Queries and their segments: ``{query_id: text}`` and ``{query_id: {key: value}}``.

    A JSONL query may carry ``"metadata": {"language": "de", "topic": "health"}``: its scalar
    values (strings, numbers, booleans; kept as strings) are the segments ``compare`` reports
    separately; lists, objects and nulls there are ignored. Queries without any are absent
    from the second dict.
    """
    records = file_records(path)
    queries: dict[str, str] = {}
    metadata: QueryMetadata = {}
    for line, record in records:
        qid_field = next((f for f in QUERY_ID_FIELDS if f in record), None)
        if qid_field is None:
            raise DataError(f"{path}:{line}: no query id field ({', '.join(QUERY_ID_FIELDS)})")
        qid = required_str(record, qid_field, path, line)
        text = record.get("text")
        if text is not None and not isinstance(text, str):
            raise DataError(f"{path}:{line}: query {qid!r}: 'text' must be a string, got {wrong_type(text)}")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}:{line}: query {qid!r} has empty or missing 'text'")
        if qid in queries:
            raise DataError(f"{path}:{line}: duplicate query id {qid!r}")
        check_encodable(text, "text", path, line)
        check_encodable(qid, qid_field, path, line)
        queries[qid] = text
        segments = _query_metadata(record.get("metadata"), qid, path, line)
        if segments:
            metadata[qid] = segments
    return queries, metadata


def _query_metadata(value: object, qid: str, path: Path, line: int) -> dict[str, str]:
    """The scalar entries of a query's ``metadata`` object, as strings.

    Anything else is left out, not refused: BEIR collections carry other things there (SciFact
    maps document ids to lists of evidence sentences), and those are not segments.
    """
    if not isinstance(value, dict):
        return {}
    segments: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            segments[str(key)] = str(item).lower()
        elif isinstance(item, str | int | float) and str(item).strip():
            segments[str(key)] = str(item)
        else:
            continue
        check_encodable(segments[str(key)], f"metadata.{key}", path, line)
    return segments


def read_qrels(path: Path) -> Qrels:
    """BEIR qrels (``query-id<TAB>corpus-id<TAB>score``, header optional) or TREC (``qid 0 docid rel``).

    Ids are exact strings: a file whose first line holds a tab is split on tabs only, so an id
    may contain spaces (``q1<TAB>a b<TAB>2`` judges the document ``'a b'``); a whitespace-separated
    file (TREC) cannot carry such an id, and a line that looks like one split at a space (its
    second of four columns is not an iteration, ``0`` or ``Q0``) is refused with its line.
    """
    qrels: Qrels = {}
    tabbed: bool | None = None
    for line_no, line in text_lines(path):
        if not line.strip():
            continue
        if tabbed is None:
            tabbed = "\t" in line
        parts = _qrels_columns(line, tabbed, path, line_no)
        if line_no == 1 and not _is_int(parts[-1]):
            continue  # header
        qid, doc_id, grade = _qrels_fields(parts, path, line_no)
        qrels.setdefault(qid, {})[doc_id] = grade
    if not qrels:
        raise DataError(f"{path}: no judgements found")
    return qrels


def _qrels_columns(line: str, tabbed: bool, path: Path, line_no: int) -> list[str]:
    """A qrels line's columns: split on tabs only in a tab-separated file, else on whitespace."""
    if not tabbed:
        return line.split()
    if "\t" not in line:
        raise DataError(
            f"{path}:{line_no}: no tab in a tab-separated qrels file (its first line has tabs); "
            "separate the columns with tabs (query-id<TAB>corpus-id<TAB>score), since ids may hold spaces"
        )
    return line.rstrip().split("\t")  # the last column is the grade: trailing blanks are no id


def _qrels_fields(parts: list[str], path: Path, line_no: int) -> tuple[str, str, int]:
    """``(query id, document id, grade)`` of one qrels line's columns, checked."""
    if len(parts) == 4:
        qid, iteration, doc_id, grade = parts
        if not (_is_int(iteration) or iteration == "Q0"):
            raise DataError(
                f"{path}:{line_no}: {iteration!r} is not a TREC iteration (0 or Q0) in "
                f"{' '.join(parts)!r}: is an id split at a space? Ids with spaces need BEIR qrels, "
                "tab-separated (query-id<TAB>corpus-id<TAB>score)"
            )
    elif len(parts) == 3:
        qid, doc_id, grade = parts
    else:
        raise DataError(
            f"{path}:{line_no}: expected 3 columns (query-id corpus-id score) or 4 (TREC: "
            f"qid iter docid rel), got {len(parts)}"
        )
    for name, value in (("query-id", qid), ("corpus-id", doc_id)):
        if not value.strip():
            raise DataError(f"{path}:{line_no}: empty {name}; every line needs a query id and a corpus id")
    if not _is_int(grade):
        raise DataError(f"{path}:{line_no}: relevance {grade!r} is not an integer")
    if not MIN_GRADE <= int(grade) <= MAX_GRADE:
        raise DataError(
            f"{path}:{line_no}: relevance {grade} is outside {MIN_GRADE}..{MAX_GRADE}; graded "
            "judgements are small integers (e.g. 0 = not relevant, 1, 2, 3 = highly relevant)"
        )
    return qid, doc_id, int(grade)


def validate_qrels(qrels: Qrels, queries: dict[str, str], doc_ids: set[str], *, source: Path) -> None:
    """Every judged query and document must exist; report a few of each that do not."""
    unknown_q = sorted(q for q in qrels if q not in queries)
    if unknown_q:
        raise DataError(
            f"{source}: {len(unknown_q)} judged query id(s) not in the queries file, e.g. "
            f"{', '.join(map(repr, unknown_q[:5]))}"
        )
    unknown_d = sorted({d for judged in qrels.values() for d in judged if d not in doc_ids})
    if unknown_d:
        raise DataError(
            f"{source}: {len(unknown_d)} judged document id(s) not in the corpus, e.g. "
            f"{', '.join(map(repr, unknown_d[:5]))}"
        )


MIN_GRADE = -1000
"""The lowest relevance grade accepted in qrels (negative grades mark spam in some collections)."""
MAX_GRADE = 1000
"""The highest relevance grade accepted; larger values overflow pytrec_eval's C integers."""


def _first_existing(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _sample(ids: tuple[str, ...], n: int = 5) -> str:
    shown = ", ".join(map(repr, ids[:n]))
    return shown + (f", … {len(ids) - n} more" if len(ids) > n else "")


def collection_name(path: Path) -> str:
    """What a collection is called: a BEIR folder's name, or a file's name without extensions."""
    return path.name if path.is_dir() else path.name.split(".")[0]
