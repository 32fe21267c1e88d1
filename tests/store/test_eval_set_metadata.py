"""Query metadata (segments) travels from queries.jsonl into the stored eval set, across versions."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from tests.corpus.test_readers import write_beir
from workbench.comparison.judging import add_judgements
from workbench.contract import EVAL_SETS_TABLE, eval_sets_schema
from workbench.corpus.readers import read_queries_with_metadata
from workbench.embedding.ingest import ingest
from workbench.store.evalsets import EvalSet, load_eval_set, save_eval_set
from workbench.store.workspace import Workspace

DOCS = [{"_id": "a", "text": "apples and pears"}, {"_id": "b", "text": "Äpfel und Birnen"}]
QUERIES = [
    {"_id": "q1", "text": "fruit", "metadata": {"language": "en", "words": 1}},
    {"_id": "q2", "text": "Obst", "metadata": {"language": "de", "long": False}},
    {"_id": "q3", "text": "pears"},
]
QRELS = "query-id\tcorpus-id\tscore\nq1\ta\t1\nq2\tb\t1\nq3\ta\t1\n"


def test_ingest_keeps_each_querys_metadata_as_strings(empty_ws: Workspace, tmp_path: Path) -> None:
    ingest(empty_ws, write_beir(tmp_path / "fruit", DOCS, QUERIES, QRELS))
    stored = load_eval_set(empty_ws, "fruit")
    assert stored.metadata == {
        "q1": {"language": "en", "words": "1"},
        "q2": {"language": "de", "long": "false"},
    }
    assert stored.segment_keys == ["language", "long", "words"]
    judged = add_judgements(empty_ws, "fruit", {"q1": {"b": 0}}, author="ann")
    assert judged.eval_set.version == 2 and load_eval_set(empty_ws, "fruit").metadata == stored.metadata
    assert load_eval_set(empty_ws, "fruit@1").metadata == stored.metadata  # the history keeps it too


def test_metadata_enters_the_hash_only_when_there_is_some() -> None:
    bare = EvalSet("e", "t", {"q1": "x"}, {"q1": {"a": 1}})
    blob = json.dumps([bare.queries, bare.qrels], sort_keys=True, ensure_ascii=False)
    import hashlib

    assert bare.content_hash == hashlib.sha256(blob.encode()).hexdigest()  # unchanged for old eval sets
    tagged = EvalSet("e", "t", {"q1": "x"}, {"q1": {"a": 1}}, metadata={"q1": {"language": "en"}})
    assert tagged.content_hash != bare.content_hash


def test_metadata_that_is_not_a_segment_is_ignored(tmp_path: Path) -> None:
    """SciFact's queries.jsonl maps document ids to evidence lists under "metadata": not segments."""
    path = tmp_path / "queries.jsonl"
    lines = [
        '{"_id": "q1", "text": "x", "metadata": {"31715818": [{"label": "SUPPORT"}], "language": "en"}}',
        '{"_id": "q2", "text": "y", "metadata": "de"}',
        '{"_id": "q3", "text": "z", "metadata": {}}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    queries, metadata = read_queries_with_metadata(path)
    assert list(queries) == ["q1", "q2", "q3"] and metadata == {"q1": {"language": "en"}}


def test_an_eval_set_table_from_before_metadata_takes_it(empty_ws: Workspace) -> None:
    old_schema = pa.schema([f for f in eval_sets_schema() if f.name != "metadata_json"])
    row = {"name": "old", "table": "t", "created_at": "", "content_hash": "h", "n_queries": 1, "n_judged": 1}
    row |= {"queries_json": '{"q1": "x"}', "qrels_json": '{"q1": {"a": 1}}'}
    empty_ws.create_table(EVAL_SETS_TABLE, pa.Table.from_pylist([row], schema=old_schema))
    assert load_eval_set(empty_ws, "old").metadata == {}  # readable as it is
    save_eval_set(empty_ws, EvalSet("new", "t", {"q1": "x"}, {"q1": {"a": 1}}, metadata={"q1": {"k": "v"}}))
    assert load_eval_set(empty_ws, "new").metadata == {"q1": {"k": "v"}}
    assert load_eval_set(empty_ws, "old").metadata == {}
