"""A corpus file read once, validated row by row, as Arrow batches: memory flat in corpus size.

:class:`CorpusStream` turns a corpus file into validated ``RecordBatch`` es of the corpus schema
(``id``, ``title``, ``text``, ``content_hash``) without holding the corpus: each document is
checked as it is read (id, text, empty-text policy, UTF-8), duplicate ids are found at the end
from one 8-byte hash per row (a second pass over the file, only when the hashes collide, names
both lines), and the ids a caller asks about (the documents the qrels judge) are remembered.
A stream's counts (:attr:`rows`, :attr:`skipped`, :attr:`titled`) are final once its batches are
exhausted; an error is raised from the iteration, at the row that caused it or at the end.

Example:
    >>> stream = CorpusStream(Path("corpus.jsonl"))  # doctest: +SKIP
    >>> table = pa.Table.from_batches(stream.batches(), schema=corpus_schema())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pyarrow as pa

from workbench.contract import content_hash, corpus_schema
from workbench.corpus.parsing import BATCH_ROWS, check_encodable, file_records, required_str, wrong_type
from workbench.errors import DataError
from workbench.progress import ProgressFn

__all__ = ["EMPTY_POLICIES", "ID_FIELDS", "CorpusStream", "EmptyPolicy", "Fields"]

log = logging.getLogger(__name__)

EmptyPolicy = Literal["error", "skip", "title"]
"""What to do with a document whose text is empty: refuse the input (default), leave the
document out (and the judgements that name it), or embed its title instead."""
EMPTY_POLICIES: tuple[str, ...] = get_args(EmptyPolicy)

ID_FIELDS = ("_id", "id", "doc_id", "docid")


@dataclass(frozen=True)
class Fields:
    """Column names in the input; ``None`` means auto-detect (``_id`` / ``id`` / …)."""

    id: str | None = None
    text: str = "text"
    title: str | None = "title"


class CorpusStream:
    """One pass over a corpus file, yielding validated Arrow batches (see the module docstring).

    Args:
        path: A ``.jsonl`` / ``.csv`` / ``.tsv`` / ``.parquet`` corpus file.
        fields: Input column names.
        on_empty: The empty-text policy.
        watch: Document ids to look out for (e.g. those the qrels judge); the ones seen are in
            :attr:`found` after the pass.
        batch_rows: Rows per batch.
        on_progress: Called with ``(bytes_read, file_bytes)`` as a JSONL file is read.
    """

    def __init__(
        self,
        path: Path,
        fields: Fields | None = None,
        on_empty: EmptyPolicy = "error",
        *,
        watch: Iterable[str] = (),
        batch_rows: int = BATCH_ROWS,
        on_progress: ProgressFn | None = None,
    ) -> None:
        self.path = path
        self.fields = fields or Fields()
        self.on_empty = on_empty
        self.watch = frozenset(watch)
        self.batch_rows = batch_rows
        self.rows = 0
        self.skipped: list[str] = []
        self.titled: list[str] = []
        self.found: set[str] = set()
        self._digests: list[np.ndarray] = []
        self._hashes: list[int] = []  # of every id read since the last batch, kept or skipped
        self._on_progress = on_progress

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The validated corpus in batches of the corpus schema; the checks at the end run last."""
        schema = corpus_schema()
        ids: list[str] = []
        titles: list[str] = []
        texts: list[str] = []
        for doc_id, title, text in self._documents():
            ids.append(doc_id)
            titles.append(title)
            texts.append(text)
            if len(ids) == self.batch_rows:
                yield self._batch(schema, ids, titles, texts)
                ids, titles, texts = [], [], []
        if ids:
            yield self._batch(schema, ids, titles, texts)
        self._flush_hashes()
        self._finish()

    def _batch(
        self, schema: pa.Schema, ids: list[str], titles: list[str], texts: list[str]
    ) -> pa.RecordBatch:
        hashes = [content_hash(t, x) for t, x in zip(titles, texts, strict=True)]
        self._flush_hashes()
        self.rows += len(ids)
        return pa.RecordBatch.from_arrays(
            [
                pa.array(ids, pa.string()),
                pa.array(titles, pa.string()),
                pa.array(texts, pa.string()),
                pa.array(hashes, pa.string()),
            ],
            schema=schema,
        )

    def _flush_hashes(self) -> None:
        self._digests.append(np.array(self._hashes, dtype=np.int64))
        self._hashes = []

    def _documents(self) -> Iterator[tuple[str, str, str]]:
        """``(id, title, text)`` of each document kept, validated."""
        path, fields = self.path, self.fields
        id_field = fields.id
        on_bytes = None
        if self._on_progress is not None:
            size, report = path.stat().st_size, self._on_progress

            def on_bytes(done: int) -> None:
                report(done, size)

        for line, record in file_records(path, on_bytes):
            if id_field is None:
                id_field = next((f for f in ID_FIELDS if f in record), None)
                if id_field is None:
                    raise DataError(
                        f"{path}:{line}: no id field; expected one of {', '.join(ID_FIELDS)} "
                        "(or name it with --id-field)"
                    )
            doc_id = required_str(record, id_field, path, line)
            self._hashes.append(hash(doc_id))
            text = record.get(fields.text)
            title = record.get(fields.title) if fields.title else None
            if title is not None and not isinstance(title, str):
                raise DataError(
                    f"{path}:{line}: document {doc_id!r} has a {type(title).__name__} as {fields.title!r}; "
                    "a title must be text (or absent)"
                )
            if text is not None and not isinstance(text, str):
                raise DataError(
                    f"{path}:{line}: document {doc_id!r}: {fields.text!r} must be a string, got "
                    f"{wrong_type(text)}; write the text as a JSON string"
                )
            if not isinstance(text, str) or not text.strip():
                text = self._empty_text(record, doc_id, title, line)
                if text is None:
                    continue
            for key, value in ((id_field, doc_id), (fields.title, title), (fields.text, text)):
                check_encodable(value, key or "title", path, line)
            if doc_id in self.watch:
                self.found.add(doc_id)
            yield doc_id, title or "", text

    def _empty_text(self, record: dict[str, object], doc_id: str, title: object, line: int) -> str | None:
        """What the empty-text policy makes of a document: its title, None (skip it), or an error."""
        path, fields = self.path, self.fields
        if fields.text not in record:
            raise DataError(
                f"{path}:{line}: document {doc_id!r} has no {fields.text!r} field; name the text "
                "column with --text-field"
            )
        if self.on_empty == "skip":
            self.skipped.append(doc_id)
            return None
        if self.on_empty == "title" and isinstance(title, str) and title.strip():
            self.titled.append(doc_id)
            return title
        why = " and an empty title" if self.on_empty == "title" else ""
        raise DataError(
            f"{path}:{line}: document {doc_id!r} has empty {fields.text!r}{why}; leave such documents "
            "out with --on-empty skip (or embed their title with --on-empty title)"
        )

    def _finish(self) -> None:
        if not self.rows:
            raise DataError(f"{self.path}: the corpus is empty; it needs at least one document")
        digests = np.sort(np.concatenate(self._digests))
        self._digests = []
        repeated = digests[1:][digests[1:] == digests[:-1]]
        if repeated.size:
            self._name_duplicate(set(repeated.tolist()))
        if self.skipped:
            log.info("%s: skipped %d document(s) with empty text", self.path, len(self.skipped))

    def _name_duplicate(self, suspects: set[int]) -> None:
        """Second pass, only over ids whose hash repeats: the first real duplicate, with both lines."""
        id_field = self.fields.id
        seen: dict[str, int] = {}
        for line, record in file_records(self.path):
            id_field = id_field or next(f for f in ID_FIELDS if f in record)
            doc_id = required_str(record, id_field, self.path, line)
            if hash(doc_id) not in suspects:
                continue
            if doc_id in seen:
                raise DataError(
                    f"{self.path}:{line}: duplicate id {doc_id!r} (first seen on line {seen[doc_id]})"
                )
            seen[doc_id] = line
