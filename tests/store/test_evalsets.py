"""Eval sets are bound to their table, and every recorded version stays reachable by ``NAME@VERSION``.

Issue 22, item 3: ingesting another table whose folder has the same name used to rebind the
eval set to the new table silently (``compare --eval-set NAME -t OLD`` then failed, and the
original labelled queries were reachable only through the library).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.test_readers import DOCS, QUERIES, write_beir
from workbench.comparison.judging import add_judgements
from workbench.embedding.ingest import ingest
from workbench.errors import InvalidArgumentError, NotFoundError
from workbench.store.evalsets import EvalSet, eval_set_versions, load_eval_set, save_eval_set
from workbench.store.workspace import Workspace

QRELS = "query-id\tcorpus-id\tscore\nq1\ta\t2\n"
OTHER_DOCS = [{"_id": "x", "text": "xylophone"}, {"_id": "y", "text": "yak"}]
OTHER_QUERIES = [{"_id": "p1", "text": "which instrument?"}]
OTHER_QRELS = "query-id\tcorpus-id\tscore\np1\tx\t1\n"


def _two_folders(tmp_path: Path) -> tuple[Path, Path]:
    """Two BEIR folders both named ``scifact`` (a copy of a collection, a newer release, ...)."""
    first = write_beir(tmp_path / "one" / "scifact", DOCS, QUERIES, QRELS)
    second = write_beir(tmp_path / "two" / "scifact", OTHER_DOCS, OTHER_QUERIES, OTHER_QRELS)
    return first, second


def _state(ws: Workspace) -> tuple[list[str], EvalSet, list[dict[str, object]]]:
    return ws.table_names(), load_eval_set(ws, "scifact"), eval_set_versions(ws, "scifact")


@pytest.mark.parametrize("explicit", [False, True], ids=["default-name", "explicit-name"])
def test_ingest_refuses_to_take_over_another_tables_eval_set(
    empty_ws: Workspace, tmp_path: Path, explicit: bool
) -> None:
    first, second = _two_folders(tmp_path)
    ingest(empty_ws, first)
    before = _state(empty_ws)
    with pytest.raises(
        InvalidArgumentError,
        match=r"eval set 'scifact' belongs to table 'scifact'; name this one with --eval-set NAME",
    ):
        ingest(empty_ws, second, table="scifact2", eval_set="scifact" if explicit else None)
    assert _state(empty_ws) == before  # nothing written: no table, the eval set untouched
    assert "scifact2" not in empty_ws.table_names()


def test_a_new_name_for_the_second_eval_set_keeps_both(empty_ws: Workspace, tmp_path: Path) -> None:
    first, second = _two_folders(tmp_path)
    ingest(empty_ws, first)
    ingest(empty_ws, second, table="scifact2", eval_set="scifact2")
    assert load_eval_set(empty_ws, "scifact").table == "scifact"
    assert load_eval_set(empty_ws, "scifact2").table == "scifact2"


def test_reingesting_the_same_table_still_replaces_its_eval_set(empty_ws: Workspace, tmp_path: Path) -> None:
    first, _ = _two_folders(tmp_path)
    ingest(empty_ws, first)
    write_beir(first, DOCS, QUERIES, QRELS + "q2\tb\t1\n")
    ingest(empty_ws, first)
    assert load_eval_set(empty_ws, "scifact").version == 2
    assert load_eval_set(empty_ws, "scifact").table == "scifact"


def test_save_eval_set_refuses_another_table(empty_ws: Workspace, tmp_path: Path) -> None:
    first, _ = _two_folders(tmp_path)
    ingest(empty_ws, first)
    before = _state(empty_ws)
    with pytest.raises(InvalidArgumentError, match=r"eval set 'scifact' belongs to table 'scifact'"):
        save_eval_set(empty_ws, EvalSet("scifact", "elsewhere", {"q": "text"}))
    assert _state(empty_ws) == before


def test_every_version_is_reachable_by_name_at_version(demo_ws: Workspace) -> None:
    first = load_eval_set(demo_ws, "demo")
    add_judgements(demo_ws, "demo", {"q01": {"d0009": 1}}, author="alice")
    latest = load_eval_set(demo_ws, "demo")
    assert latest.version == 2

    for ref in ("demo@1", "demo@v1"):
        old = load_eval_set(demo_ws, ref)
        assert (old.name, old.version, old.content_hash) == ("demo", 1, first.content_hash)
    assert load_eval_set(demo_ws, "demo@2").content_hash == latest.content_hash

    with pytest.raises(NotFoundError, match=r"eval set 'demo' has no version 7; versions: v1, v2 \(latest\)"):
        load_eval_set(demo_ws, "demo@7")
    with pytest.raises(InvalidArgumentError, match=r"'demo@latest'.*a version number such as demo@2"):
        load_eval_set(demo_ws, "demo@latest")
    with pytest.raises(NotFoundError, match=r"no eval set 'nope'"):
        load_eval_set(demo_ws, "nope@1")


def test_an_eval_set_that_never_changed_has_version_1(demo_ws: Workspace) -> None:
    assert load_eval_set(demo_ws, "demo@1").version == 1
    with pytest.raises(NotFoundError, match=r"has no version 2; versions: v1 \(latest\)"):
        load_eval_set(demo_ws, "demo@2")


def test_judgements_go_onto_the_latest_version_only(demo_ws: Workspace) -> None:
    add_judgements(demo_ws, "demo", {"q01": {"d0009": 1}}, author="alice")
    before = eval_set_versions(demo_ws, "demo")
    with pytest.raises(
        InvalidArgumentError, match=r"'demo@1' is not the latest version of eval set 'demo' \(v2\)"
    ):
        add_judgements(demo_ws, "demo@1", {"q01": {"d0010": 1}}, author="bob")
    assert eval_set_versions(demo_ws, "demo") == before
    result = add_judgements(demo_ws, "demo@2", {"q01": {"d0010": 1}}, author="bob")
    assert result.eval_set.version == 3
