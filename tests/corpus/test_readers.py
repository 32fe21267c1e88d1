"""Reading corpora, queries and qrels; every malformed input is named with its line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.contract import content_hash
from workbench.corpus.readers import read_collection, read_corpus, read_qrels
from workbench.corpus.stream import Fields
from workbench.errors import DataError


def write_beir(folder: Path, docs: list[dict], queries: list[dict], qrels: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    if qrels is not None:
        (folder / "qrels").mkdir(exist_ok=True)
        (folder / "qrels" / "test.tsv").write_text(qrels)
    return folder


DOCS = [{"_id": "a", "title": "T", "text": "alpha"}, {"_id": "b", "text": "beta"}]
QUERIES = [{"_id": "q1", "text": "first?"}, {"_id": "q2", "text": "unjudged"}]


def test_beir_folder_with_header_qrels(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "mini", DOCS, QUERIES, "query-id\tcorpus-id\tscore\nq1\ta\t2\nq1\tb\t0\n")
    collection = read_collection(folder)
    assert collection.name == "mini"
    assert collection.corpus.column("id").to_pylist() == ["a", "b"]
    assert collection.corpus.column("content_hash")[0].as_py() == content_hash("T", "alpha")
    assert collection.qrels == {"q1": {"a": 2, "b": 0}}
    assert set(collection.queries) == {"q1", "q2"}


def test_trec_qrels(tmp_path: Path) -> None:
    path = tmp_path / "qrels.txt"
    path.write_text("q1 0 a 1\nq1 0 b 3\nq2 Q0 a 0\n")
    assert read_qrels(path) == {"q1": {"a": 1, "b": 3}, "q2": {"a": 0}}


def test_csv_and_parquet_with_named_columns(tmp_path: Path) -> None:
    csv = tmp_path / "docs.csv"
    csv.write_text('key,body,heading\n1,"first, with comma",H1\n2,second,\n')
    table = read_corpus(csv, fields=Fields(id="key", text="body", title="heading"))
    assert table.column("id").to_pylist() == ["1", "2"]
    assert table.column("text").to_pylist() == ["first, with comma", "second"]
    parquet = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ["x", "y"], "text": ["one", "two"]}), parquet)
    assert read_corpus(parquet).column("id").to_pylist() == ["x", "y"]


BAD_CORPORA = [
    ('{"_id": "a", "text": "ok"}\n{"_id": "b", "text": \n', r"corpus\.jsonl:2: malformed JSON"),
    (
        '{"_id": "a", "text": "ok"}\n{"_id": "a", "text": "again"}\n',
        r":2: duplicate id 'a' \(first seen on line 1\)",
    ),
    (
        '{"_id": "a", "text": "   "}\n',
        r":1: document 'a' has empty 'text'; leave such documents out with --on-empty skip",
    ),
    (
        '{"_id": "a", "title": "no text"}\n',
        r":1: document 'a' has no 'text' field; name the text column with --text-field",
    ),
    ('{"text": "no id"}\n', r":1: no id field"),
    ("\n\n", r"the corpus is empty"),
    ('["a list"]\n', r":1: expected a JSON object"),
]


@pytest.mark.parametrize(("content", "message"), BAD_CORPORA)
def test_bad_corpus_lines_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_corpus(path)


def test_non_utf8_bytes_are_named_with_line(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b'{"_id": "a", "text": "ok"}\n{"_id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r":2: bytes that are not UTF-8.*iconv"):
        read_corpus(path)


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("q1\ta\t1\nq9\ta\t1\n", r"1 judged query id\(s\) not in the queries file, e\.g\. 'q9'"),
        ("q1\tzzz\t1\n", r"1 judged document id\(s\) not in the corpus, e\.g\. 'zzz'"),
        ("q1\ta\t1\nq1\tb\n", r":2: expected 3 columns"),
        ("q1\ta\thigh\nq1\tb\tx\n", r":2: relevance 'x' is not an integer"),
    ],
)
def test_bad_qrels(tmp_path: Path, qrels: str, message: str) -> None:
    folder = write_beir(tmp_path / "c", DOCS, QUERIES, qrels)
    with pytest.raises(DataError, match=message):
        read_collection(folder)


def test_missing_path_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        read_collection(tmp_path / "nope")
    odd = tmp_path / "corpus.xml"
    odd.write_text("<docs/>")
    with pytest.raises(DataError, match=r"unknown corpus format '\.xml'"):
        read_collection(odd)
