"""Reading corpora, queries and qrels: BEIR folders, JSONL, CSV, Parquet, TREC qrels.

Everything is validated before anything is written: a malformed JSON line is reported with
its line number, duplicate ids with both lines, empty text, bytes that are not UTF-8, qrels
that name unknown queries or documents, and an empty corpus.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import pyarrow as pa

from workbench.errors import DataError, InvalidArgumentError
from workbench.store.contract import content_hash, corpus_schema

__all__ = [
    "EMPTY_POLICIES",
    "ID_FIELDS",
    "QUERY_ID_FIELDS",
    "Collection",
    "EmptyPolicy",
    "Fields",
    "Qrels",
    "check_empty_policy",
    "drop_judgements",
    "read_beir",
    "read_collection",
    "read_corpus",
    "read_qrels",
    "read_queries",
    "validate_qrels",
]

Qrels = dict[str, dict[str, int]]
EmptyPolicy = Literal["error", "skip", "title"]
"""What to do with a document whose text is empty: refuse the input (default), leave the
document out (and the judgements that name it), or embed its title instead."""
EMPTY_POLICIES: tuple[str, ...] = get_args(EmptyPolicy)

log = logging.getLogger(__name__)

ID_FIELDS = ("_id", "id", "doc_id", "docid")
QUERY_ID_FIELDS = ("_id", "id", "query_id", "qid")


@dataclass(frozen=True)
class Fields:
    """Column names in the input; ``None`` means auto-detect (``_id`` / ``id`` / …)."""

    id: str | None = None
    text: str = "text"
    title: str | None = "title"


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
    return Collection(corpus=corpus, name=_stem(path), skipped=skipped, titled=titled)


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
    corpus_file = _first_existing(folder, ("corpus.jsonl", "corpus.csv", "corpus.parquet"))
    if corpus_file is None:
        raise DataError(f"{folder}: no corpus.jsonl (BEIR layout: corpus.jsonl, queries.jsonl, qrels/)")
    corpus, skipped, titled = _read_corpus(corpus_file, fields or Fields(), check_empty_policy(on_empty))
    queries: dict[str, str] = {}
    qrels: Qrels = {}
    dropped = 0
    queries_file = _first_existing(folder, ("queries.jsonl", "queries.csv", "queries.tsv"))
    if queries_file is not None:
        queries = read_queries(queries_file)
    qrels_file = _first_existing(folder / "qrels", (f"{split}.tsv", f"{split}.txt", f"{split}.qrels"))
    if qrels_file is not None:
        if not queries:
            raise DataError(f"{qrels_file}: qrels given but {folder} has no queries.jsonl")
        qrels = read_qrels(qrels_file)
        qrels, dropped = drop_judgements(qrels, set(skipped))
        validate_qrels(qrels, queries, set(corpus.column("id").to_pylist()), source=qrels_file)
    return Collection(
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        name=folder.name,
        skipped=skipped,
        titled=titled,
        qrels_dropped=dropped,
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
    """The corpus, the ids skipped for empty text, and the ids whose title became the text."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        records = _records_from_jsonl(path)
    elif suffix in (".csv", ".tsv"):
        records = _records_from_table(path, _read_csv(path))
    elif suffix == ".parquet":
        records = _records_from_table(path, _read_parquet(path))
    else:
        raise DataError(f"{path}: unknown corpus format {suffix!r}; use .jsonl, .csv or .parquet")
    ids: list[str] = []
    titles: list[str] = []
    texts: list[str] = []
    seen: dict[str, int] = {}
    skipped: list[str] = []
    titled: list[str] = []
    id_field = fields.id
    for line, record in records:
        if id_field is None:
            id_field = next((f for f in ID_FIELDS if f in record), None)
            if id_field is None:
                raise DataError(
                    f"{path}:{line}: no id field; expected one of {', '.join(ID_FIELDS)} "
                    "(or name it with --id-field)"
                )
        doc_id = _required_str(record, id_field, path, line)
        if doc_id in seen:
            raise DataError(f"{path}:{line}: duplicate id {doc_id!r} (first seen on line {seen[doc_id]})")
        seen[doc_id] = line
        text = record.get(fields.text)
        title = record.get(fields.title) if fields.title else None
        if title is not None and not isinstance(title, str):
            raise DataError(
                f"{path}:{line}: document {doc_id!r} has a {type(title).__name__} as {fields.title!r}; a "
                "title must be text (or absent)"
            )
        if not isinstance(text, str) or not text.strip():
            if fields.text not in record:
                raise DataError(
                    f"{path}:{line}: document {doc_id!r} has no {fields.text!r} field; name the text "
                    "column with --text-field"
                )
            if on_empty == "skip":
                skipped.append(doc_id)
                continue
            if on_empty == "title" and isinstance(title, str) and title.strip():
                titled.append(doc_id)
                text = title
            else:
                why = " and an empty title" if on_empty == "title" else ""
                raise DataError(
                    f"{path}:{line}: document {doc_id!r} has empty {fields.text!r}{why}; "
                    "leave such documents out with --on-empty skip (or embed their title with "
                    "--on-empty title)"
                )
        for key, value in ((id_field, doc_id), (fields.title, title), (fields.text, text)):
            _check_encodable(value, key or "title", path, line)
        ids.append(doc_id)
        titles.append(title or "")
        texts.append(text)
    if not ids:
        raise DataError(f"{path}: the corpus is empty; it needs at least one document")
    if skipped:
        log.info("%s: skipped %d document(s) with empty text", path, len(skipped))
    hashes = [content_hash(t, x) for t, x in zip(titles, texts, strict=True)]
    table = pa.table([ids, titles, texts, hashes], schema=corpus_schema())
    return table, tuple(skipped), tuple(titled)


def read_queries(path: Path) -> dict[str, str]:
    """Queries as ``{query_id: text}`` from JSONL (BEIR), CSV or TSV (``id``, ``text``)."""
    if path.suffix.lower() in (".jsonl", ".json"):
        records = _records_from_jsonl(path)
    else:
        records = _records_from_table(path, _read_csv(path))
    queries: dict[str, str] = {}
    for line, record in records:
        qid_field = next((f for f in QUERY_ID_FIELDS if f in record), None)
        if qid_field is None:
            raise DataError(f"{path}:{line}: no query id field ({', '.join(QUERY_ID_FIELDS)})")
        qid = _required_str(record, qid_field, path, line)
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}:{line}: query {qid!r} has empty or missing 'text'")
        if qid in queries:
            raise DataError(f"{path}:{line}: duplicate query id {qid!r}")
        _check_encodable(text, "text", path, line)
        _check_encodable(qid, qid_field, path, line)
        queries[qid] = text
    return queries


def read_qrels(path: Path) -> Qrels:
    """BEIR qrels (``query-id corpus-id score``, header optional) or TREC (``qid 0 docid grade``)."""
    qrels: Qrels = {}
    for line_no, line in _text_lines(path):
        parts = line.split()
        if not parts:
            continue
        if line_no == 1 and not _is_int(parts[-1]):
            continue  # header
        if len(parts) == 4:
            qid, _, doc_id, grade = parts
        elif len(parts) == 3:
            qid, doc_id, grade = parts
        else:
            raise DataError(
                f"{path}:{line_no}: expected 3 columns (query-id corpus-id score) or 4 (TREC: "
                f"qid iter docid rel), got {len(parts)}"
            )
        if not _is_int(grade):
            raise DataError(f"{path}:{line_no}: relevance {grade!r} is not an integer")
        if not MIN_GRADE <= int(grade) <= MAX_GRADE:
            raise DataError(
                f"{path}:{line_no}: relevance {grade} is outside {MIN_GRADE}..{MAX_GRADE}; graded "
                "judgements are small integers (e.g. 0 = not relevant, 1, 2, 3 = highly relevant)"
            )
        qrels.setdefault(qid, {})[doc_id] = int(grade)
    if not qrels:
        raise DataError(f"{path}: no judgements found")
    return qrels


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


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            try:
                yield line_no, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}:{line_no}: bytes that are not UTF-8 at column {exc.start + 1}; "
                    "re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
                ) from exc


def _records_from_jsonl(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    for line_no, line in _text_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{line_no}: malformed JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(record, dict):
            raise DataError(f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}")
        yield line_no, record


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"{path}: not a readable Parquet file ({str(exc).splitlines()[0][:200]}); re-export it, "
            "or give the corpus as .jsonl or .csv"
        ) from exc


def _read_csv(path: Path) -> pa.Table:
    import pyarrow.csv as pcsv

    for _ in _text_lines(path):  # UTF-8 check with a line number before the CSV parser runs
        pass
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    _check_csv_quoting(path, delimiter)
    try:
        return pcsv.read_csv(
            path,
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(strings_can_be_null=False, column_types={}),
        )
    except pa.ArrowInvalid as exc:
        raise DataError(f"{path}: malformed CSV: {exc}") from exc


def _check_csv_quoting(path: Path, delimiter: str) -> None:
    """Parse strictly first, so an unterminated quote is an error with its line, not a merged row.

    A quoted value may span lines; a quote that is never closed (or is followed by anything but
    a delimiter) would otherwise swallow the rows after it into one document.
    """
    import csv

    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        try:
            for _ in reader:
                pass
        except csv.Error as exc:
            raise DataError(
                f"{path}:{reader.line_num}: malformed CSV ({exc}); a quoted value is not closed or a "
                'quote inside a value is not doubled (write "" for a literal quote)'
            ) from exc


def _records_from_table(path: Path, table: pa.Table) -> Iterator[tuple[int, dict[str, object]]]:
    # Row r of a CSV is on line r + 2 (after the header), barring multi-line values.
    for row, record in enumerate(table.to_pylist()):
        yield row + 2, {k: (str(v) if isinstance(v, int) else v) for k, v in record.items()}


def _required_str(record: dict[str, object], key: str, path: Path, line: int) -> str:
    value = record.get(key)
    if isinstance(value, (bool, float, list, dict)):
        raise DataError(
            f"{path}:{line}: {key!r} is a {type(value).__name__} ({value!r}); an id must be a string or "
            "an integer (quote it in the file)"
        )
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{path}:{line}: missing or empty {key!r}")
    return value


def _check_encodable(value: object, key: str, path: Path, line: int) -> None:
    """Refuse text that cannot be stored as UTF-8 (a lone surrogate from a broken ``\\ud800`` escape)."""
    if not isinstance(value, str):
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DataError(
            f"{path}:{line}: {key!r} contains {value[exc.start]!r} at position {exc.start}, a lone UTF-16 "
            "surrogate that is not valid text; fix the escape in the file (surrogates come in pairs)"
        ) from exc


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


def _stem(path: Path) -> str:
    return path.name.split(".")[0]
