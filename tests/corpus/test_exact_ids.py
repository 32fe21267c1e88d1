"""Ids are exact strings: qrels never re-split an id, ids no file can carry are refused at ingest.

Each case was a silent wrong result or a misleading error before (issue 22, items 5 and 9).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.corpus.readers import read_collection, read_corpus, read_qrels, read_queries
from workbench.embedding.ingest import ingest
from workbench.errors import DataError
from workbench.store.evalsets import load_eval_set
from workbench.store.workspace import Workspace


def write_beir(folder: Path, doc_ids: list[str], qrels: str, *, split: str = "test") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    docs = [{"_id": d, "text": f"text of {d}"} for d in doc_ids]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "which?"}) + "\n")
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / f"{split}.tsv").write_text(qrels)
    return folder


def _file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- qrels: BEIR tsv splits on tabs only -----------------------------------------------------


def test_a_beir_id_with_a_space_is_kept_whole(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "c", ["a b", "b"], "query-id\tcorpus-id\tscore\nq1\ta b\t2\n")
    assert read_collection(folder).qrels == {"q1": {"a b": 2}}


def test_ingest_stores_the_judgement_on_the_exact_id(empty_ws: Workspace, tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "c", ["a b", "b"], "query-id\tcorpus-id\tscore\nq1\ta b\t2\n")
    ingest(empty_ws, folder)
    assert load_eval_set(empty_ws, "c").qrels == {"q1": {"a b": 2}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("q 1\td 1\t1\n", {"q 1": {"d 1": 1}}),  # no header, spaces in both ids
        ("q1\t0\td 1\t3\n", {"q1": {"d 1": 3}}),  # TREC columns, tab-separated
        ("q1\tQ0\td1\t1\r\nq1\tQ0\td2\t0\r\n", {"q1": {"d1": 1, "d2": 0}}),  # CRLF
        ("q1 0 d1 1\nq1 0 d2 2\n", {"q1": {"d1": 1, "d2": 2}}),  # TREC, whitespace
        ("q1  d1   1\n", {"q1": {"d1": 1}}),  # whitespace, three columns
    ],
)
def test_qrels_formats(tmp_path: Path, text: str, expected: dict[str, dict[str, int]]) -> None:
    assert read_qrels(_file(tmp_path / "q.tsv", text)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # an id with a space in a whitespace-separated file: the space would move the judgement
        ("q1 a b 2\n", r"q\.tsv:1: 'a' is not a TREC iteration.*tab-separated"),
        ("q1 0 a b 2\n", r"q\.tsv:1: expected 3 columns .* got 5"),
        # a tab-separated file: every line is split on tabs only
        ("q1\ta\t1\nq1 b 1\n", r"q\.tsv:2: no tab in a tab-separated qrels file"),
        ("q1\ta\t1\nq1\t\t1\n", r"q\.tsv:2: empty corpus-id"),
        ("q1\ta b c\td\te\t1\n", r"q\.tsv:1: expected 3 columns .* got 5"),
    ],
)
def test_qrels_that_would_split_an_id_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_qrels(_file(tmp_path / "q.tsv", text))


# --- ids no qrels file can carry are refused at ingest ----------------------------------------


@pytest.mark.parametrize("doc_id", ["a\tb", "a\nb", "a\rb", "a\x1b[31mb", "a\x85b"])
def test_a_document_id_with_a_control_character_is_refused(tmp_path: Path, doc_id: str) -> None:
    path = _file(tmp_path / "c.jsonl", json.dumps({"_id": "ok", "text": "x"}) + "\n")
    with path.open("a") as fh:
        fh.write(json.dumps({"_id": doc_id, "text": "y"}) + "\n")
    with pytest.raises(DataError, match=r"c\.jsonl:2: '_id' .* contains a control character"):
        read_corpus(path)


def test_a_query_id_with_a_control_character_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path / "queries.jsonl", json.dumps({"_id": "q\t1", "text": "x"}) + "\n")
    with pytest.raises(DataError, match=r"queries\.jsonl:1: '_id' 'q\\t1' contains a control character"):
        read_queries(path)


# --- item 9: text of the wrong type, a split that is not there ------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (42, r"int 42"),
        (["x", "y"], r"list \['x', 'y'\]"),
        ({"a": 1}, r"dict \{'a': 1\}"),
        (True, "bool True"),
    ],
)
def test_text_of_the_wrong_type_says_what_it_got(tmp_path: Path, value: object, shown: str) -> None:
    path = _file(tmp_path / "c.jsonl", json.dumps({"_id": "a", "text": value}) + "\n")
    with pytest.raises(DataError, match=rf"c\.jsonl:1: document 'a': 'text' must be a string, got {shown}"):
        read_corpus(path, on_empty="skip")  # not an empty text: no policy makes it one


def test_query_text_of_the_wrong_type_says_what_it_got(tmp_path: Path) -> None:
    path = _file(tmp_path / "queries.jsonl", json.dumps({"_id": "q1", "text": 42}) + "\n")
    with pytest.raises(DataError, match=r"queries\.jsonl:1: query 'q1': 'text' must be a string, got int 42"):
        read_queries(path)


def test_a_split_without_qrels_is_refused_with_the_splits_there_are(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "c", ["a"], "q1\ta\t1\n", split="train")
    _file(folder / "qrels" / "dev.tsv", "q1\ta\t1\n")
    with pytest.raises(DataError, match=r"no qrels/test\.tsv .*splits there: dev, train.*--split"):
        read_collection(folder)
    with pytest.raises(DataError, match=r"no qrels/nope\.tsv"):
        read_collection(folder, split="nope")
    assert read_collection(folder, split="dev").qrels == {"q1": {"a": 1}}


def test_a_split_named_without_a_qrels_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    _file(folder / "corpus.jsonl", json.dumps({"_id": "a", "text": "x"}) + "\n")
    assert read_collection(folder).qrels == {}  # a corpus-only folder (the default split)
    with pytest.raises(DataError, match=r"no qrels/dev\.tsv .*no qrels folder"):
        read_collection(folder, split="dev")
