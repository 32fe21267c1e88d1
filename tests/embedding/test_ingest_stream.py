"""Streaming ingest: a new table is written batch by batch while it is validated.

An error in a late row (after whole batches have gone to the writer) must still leave nothing
behind, duplicate ids far apart are found from their hashes and named with both lines, the qrels
are checked before the table is committed, and the progress callback sees the bytes read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.corpus.parsing import BATCH_ROWS
from workbench.corpus.readers import read_corpus
from workbench.corpus.stream import CorpusStream
from workbench.embedding.ingest import ingest
from workbench.errors import DataError
from workbench.store.workspace import Workspace

ROWS = BATCH_ROWS + 2_500  # more than one batch


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def docs(n: int) -> list[dict[str, object]]:
    return [{"_id": f"d{i}", "title": "", "text": f"document number {i}"} for i in range(n)]


def nothing_written(ws: Workspace) -> bool:
    staging = Path(ws.uri) / "_workbench_state" / "staging"
    return ws.table_names(include_internal=True) == [] and not any(staging.glob("*/*"))


def test_a_bad_row_after_the_first_batches_writes_nothing(empty_ws: Workspace, tmp_path: Path) -> None:
    records = docs(ROWS)
    records[-3]["text"] = ""
    corpus = write_jsonl(tmp_path / "big.jsonl", records)
    with pytest.raises(DataError, match=rf"big.jsonl:{ROWS - 2}: document 'd{ROWS - 3}' has empty 'text'"):
        ingest(empty_ws, corpus)
    assert nothing_written(empty_ws)


def test_duplicate_ids_far_apart_are_named_with_both_lines(empty_ws: Workspace, tmp_path: Path) -> None:
    records = docs(ROWS)
    records[ROWS - 1]["_id"] = "d7"
    corpus = write_jsonl(tmp_path / "dup.jsonl", records)
    with pytest.raises(DataError, match=rf"dup.jsonl:{ROWS}: duplicate id 'd7' \(first seen on line 8\)"):
        ingest(empty_ws, corpus)
    assert nothing_written(empty_ws)


def test_a_hash_collision_is_not_a_duplicate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", docs(50))
    import builtins

    real_hash = builtins.hash
    monkeypatch.setattr(
        "workbench.corpus.stream.hash", lambda v: 1 if v in ("d3", "d40") else real_hash(v), raising=False
    )
    table = read_corpus(corpus)  # d3 and d40 share a hash: the second pass finds no real duplicate
    assert table.num_rows == 50


def test_qrels_are_checked_before_the_table_is_committed(empty_ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "beir"
    write_jsonl(folder / "corpus.jsonl", docs(ROWS))
    write_jsonl(folder / "queries.jsonl", [{"_id": "q1", "text": "a question"}])
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td5\t1\nq1\tnope\t1\n")
    with pytest.raises(DataError, match=r"1 judged document id\(s\) not in the corpus, e.g. 'nope'"):
        ingest(empty_ws, folder)
    assert nothing_written(empty_ws)


def test_a_streamed_table_is_the_corpus_and_progress_counts_bytes(
    empty_ws: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "beir"
    records = docs(ROWS)
    records[9]["text"] = "  "
    corpus = write_jsonl(folder / "corpus.jsonl", records)
    write_jsonl(folder / "queries.jsonl", [{"_id": "q1", "text": "a question"}])
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("q1\td5\t1\nq1\td9\t2\n")
    seen: list[tuple[int, int]] = []
    result = ingest(empty_ws, folder, on_empty="skip", on_read=lambda done, total: seen.append((done, total)))
    assert (result.rows_total, result.rows_skipped, result.qrels_dropped, result.n_judged) == (
        ROWS - 1,
        1,
        1,
        1,
    )
    assert seen[-1] == (corpus.stat().st_size, corpus.stat().st_size) and len(seen) > 2
    stored = empty_ws.table("beir").to_arrow().sort_by("id")
    expected = read_corpus(corpus, on_empty="skip").sort_by("id")
    assert stored.select(expected.column_names).equals(expected)


def test_the_stream_yields_batches_of_the_batch_size(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", docs(ROWS))
    stream = CorpusStream(corpus)
    sizes = [batch.num_rows for batch in stream.batches()]
    assert sizes == [BATCH_ROWS, ROWS - BATCH_ROWS] and stream.rows == ROWS
