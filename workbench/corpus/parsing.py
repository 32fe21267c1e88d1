"""Records from files, one at a time: JSONL lines, CSV/TSV rows and Parquet rows, streamed.

Each source yields ``(line, record)`` pairs (the line a record starts on, for error messages:
exact for JSONL, row + 2 for CSV and Parquet) and never holds the whole file: CSV and Parquet
are read in Arrow batches. The checks that every reader shares (an id must be a string or an
integer, text must be storable as UTF-8) live here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from workbench.errors import DataError

__all__ = [
    "BATCH_ROWS",
    "check_encodable",
    "control_character",
    "file_records",
    "jsonl_records",
    "required_str",
    "table_records",
    "text_lines",
    "wrong_type",
]

BATCH_ROWS = 10_000
"""Rows per Arrow batch when streaming CSV and Parquet (and per batch a corpus is written in)."""

Record = dict[str, object]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""C0 and C1 control characters (tab and line breaks included): never part of an id."""


def text_lines(path: Path, on_bytes: Callable[[int], None] | None = None) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` of a UTF-8 file; bytes that are not UTF-8 are an error with the line.

    ``on_bytes`` is told how many bytes have been read, every few thousand lines and at the end.
    """
    done = 0
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            done += len(raw)
            if on_bytes is not None and line_no % 4096 == 0:
                on_bytes(done)
            try:
                yield line_no, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}:{line_no}: bytes that are not UTF-8 at column {exc.start + 1}; "
                    "re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
                ) from exc
    if on_bytes is not None:
        on_bytes(done)


def jsonl_records(path: Path, on_bytes: Callable[[int], None] | None = None) -> Iterator[tuple[int, Record]]:
    """One JSON object per non-blank line (``on_bytes``: see :func:`text_lines`)."""
    for line_no, line in text_lines(path, on_bytes):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{line_no}: malformed JSON ({exc.msg} at column {exc.colno})") from exc
        except RecursionError as exc:  # not a damaged workspace: the input is at fault
            raise DataError(
                f"{path}: line {line_no} is nested too deeply (arrays or objects inside one another "
                "beyond what a JSON parser can follow); flatten that record or remove it"
            ) from exc
        if not isinstance(record, dict):
            raise DataError(f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}")
        yield line_no, record


def file_records(path: Path, on_bytes: Callable[[int], None] | None = None) -> Iterator[tuple[int, Record]]:
    """The records of a ``.jsonl`` / ``.json`` / ``.ndjson``, ``.csv`` / ``.tsv`` or ``.parquet`` file.

    ``on_bytes`` (JSONL only) is told how many bytes have been read, for a progress bar.
    """
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return jsonl_records(path, on_bytes)
    if suffix in (".csv", ".tsv"):
        return table_records(_csv_batches(path))
    if suffix == ".parquet":
        return table_records(_parquet_batches(path))
    raise DataError(f"{path}: unknown corpus format {suffix!r}; use .jsonl, .csv or .parquet")


def table_records(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, Record]]:
    """Rows of Arrow batches as records; row ``r`` is reported as line ``r + 2`` (after a header)."""
    row = 0
    for batch in batches:
        for record in batch.to_pylist():
            yield row + 2, {k: (str(v) if isinstance(v, int) else v) for k, v in record.items()}
            row += 1


def control_character(value: str) -> str | None:
    """The first control character (C0, DEL, C1) in ``value``, or None: an id must not hold one,
    since no qrels or run line can carry a tab or a line break."""
    bad = _CONTROL.search(value)
    return None if bad is None else bad.group()


def required_str(record: Record, key: str, path: Path, line: int) -> str:
    """``record[key]`` as a non-empty string (an integer id is accepted and turned into text)."""
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
    bad = control_character(value)
    if bad is not None:
        raise DataError(
            f"{path}:{line}: {key!r} {value!r} contains a control character ({bad!r}); an id "
            "must be printable text (a tab or line break cannot be written in a qrels or run file): "
            "fix the id in the file"
        )
    return value


def wrong_type(value: object) -> str:
    """``"int 42"``: a value's type and (shortened) repr, to say what a field got instead of text."""
    shown = repr(value)
    return f"{type(value).__name__} {shown[:60] + '…' if len(shown) > 60 else shown}"


def check_encodable(value: object, key: str, path: Path, line: int) -> None:
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


def _parquet_batches(path: Path) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
        yield from source.iter_batches(batch_size=BATCH_ROWS)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"{path}: not a readable Parquet file ({str(exc).splitlines()[0][:200]}); re-export it, "
            "or give the corpus as .jsonl or .csv"
        ) from exc


def _csv_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """A CSV/TSV file in Arrow batches, every column read as text (no type guessed per block)."""
    import csv

    import pyarrow.csv as pcsv

    for _ in text_lines(path):  # UTF-8 check with a line number before the CSV parser runs
        pass
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    _check_csv_quoting(path, delimiter)
    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh, delimiter=delimiter), [])
    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=1 << 22),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                strings_can_be_null=False, column_types={name: pa.string() for name in header}
            ),
        )
        yield from reader
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
