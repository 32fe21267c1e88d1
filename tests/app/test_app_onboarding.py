"""First run of your own data, entirely in the app: workspace, upload, validate, ingest, embed."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.corpus.uploads import Upload, stage_upload
from workbench.demo import demo_data_dir
from workbench.errors import DataError
from workbench.store.evalsets import load_eval_set
from workbench.store.workspace import open_workspace

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")


def small_beir(n_docs: int = 60, *, empty: tuple[str, ...] = ()) -> dict[str, bytes]:
    """The first ``n_docs`` demo documents with the queries and qrels that judge them."""
    source = demo_data_dir()
    docs = [json.loads(line) for line in (source / "corpus.jsonl").read_text().splitlines()][:n_docs]
    for doc in docs:
        if doc["_id"] in empty:
            doc["text"] = ""
    ids = {d["_id"] for d in docs}
    qrels = [line.split("\t") for line in (source / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    kept = [q for q in qrels if q[1] in ids]
    qids = {q for q, _, _ in kept}
    queries = [json.loads(line) for line in (source / "queries.jsonl").read_text().splitlines()]
    return {
        "corpus.jsonl": "".join(json.dumps(d) + "\n" for d in docs).encode(),
        "queries.jsonl": "".join(json.dumps(q) + "\n" for q in queries if q["_id"] in qids).encode(),
        "qrels/test.tsv": (
            "query-id\tcorpus-id\tscore\n" + "\n".join("\t".join(q) for q in kept) + "\n"
        ).encode(),
    }


def zipped(files: dict[str, bytes], folder: str = "mycorpus") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
        archive.writestr("__MACOSX/._corpus.jsonl", b"junk")
    return buffer.getvalue()


def texts(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


def app_on(uri: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(uri))
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, at.exception
    return at


# --- the staging library -------------------------------------------------------------------


def test_stage_upload_finds_the_beir_root_in_a_zip(tmp_path: Path) -> None:
    folder = stage_upload(tmp_path, Upload("scifact-mini.zip", zipped(small_beir(), "inner")))
    assert folder.name == "inner" and (folder / "qrels" / "test.tsv").is_file()
    assert not list(folder.parent.parent.rglob("__MACOSX/*.jsonl"))


@pytest.mark.parametrize(
    ("corpus", "extra", "message"),
    [
        (Upload("x.zip", b"not a zip"), {}, r"x.zip: not a readable zip archive"),
        (Upload("x.zip", zipped({"readme.txt": b"hi"})), {}, r"no corpus.jsonl .* in the archive"),
        (Upload("corpus.pdf", b"%PDF"), {}, r"corpus.pdf: a corpus file must end in .jsonl"),
        (
            Upload("c.jsonl", b"{}"),
            {"qrels": Upload("q.tsv", b"q1 d1 1")},
            r"qrels 'q.tsv' need the queries they judge",
        ),
    ],
    ids=["bad-zip", "zip-without-corpus", "bad-suffix", "qrels-without-queries"],
)
def test_stage_upload_refuses_bad_uploads(tmp_path: Path, corpus: Upload, extra: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        stage_upload(tmp_path, corpus, **extra)


def test_stage_upload_refuses_paths_outside_the_folder(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil/corpus.jsonl", b"{}")
    with pytest.raises(DataError, match=r"unsafe path '../evil/corpus.jsonl'"):
        stage_upload(tmp_path / "stage", Upload("evil.zip", buffer.getvalue()))
    assert not (tmp_path / "evil").exists()


# --- the app -------------------------------------------------------------------------------


def test_a_workspace_named_by_the_env_var_is_not_filled_with_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "mine"
    at = app_on(target, monkeypatch)
    assert not target.exists()
    labels = [b.label for b in at.sidebar.button]
    assert labels == ["Create an empty workspace", "Create it with the demo"]
    # (AppTest re-runs only the page after the first run, so the click is in the browser test.)


def test_an_empty_workspace_leads_to_the_ingest_form_not_to_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "mine"
    open_workspace(target)
    at = app_on(target, monkeypatch)
    assert open_workspace(target).table_names(include_internal=True) == []  # no demo
    assert any("no corpus table yet" in i for i in texts(at.info))
    assert [p.label for p in at.main.get("page_link")] == ["Add your data"]  # the sidebar has the navigation
    assert [b.label for b in at.sidebar.button] == ["Build the demo here", "Reload workspace"]


def test_upload_a_beir_zip_validate_then_ingest_into_an_empty_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "mine"
    open_workspace(target)  # an existing, empty workspace
    at = app_on(target, monkeypatch)
    at.switch_page("pages/migrate.py").run()
    assert texts(at.title) == ["Add your data"]
    at.file_uploader(key="migrate.upload_corpus").set_value(
        ("mycorpus.zip", zipped(small_beir(empty=("d0003",))), "application/zip")
    ).run()
    at.button(key="migrate.validate").click().run()
    assert any("d0003" in e and "--on-empty skip" in e for e in texts(at.error)), texts(at.error)
    assert open_workspace(target).table_names(include_internal=True) == []

    at.selectbox(key="migrate.on_empty").select("skip").run()
    at.button(key="migrate.validate").click().run()
    assert not at.error, texts(at.error)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Documents"] == "59"
    assert any("Skipped 1 document(s) with empty text ('d0003')" in w for w in texts(at.warning))
    assert open_workspace(target).table_names(include_internal=True) == []  # validated, not written

    at.button(key="migrate.ingest").click().run()
    assert not at.exception, at.exception
    ws = open_workspace(target)
    assert ws.table_names() == ["mycorpus"]
    assert ws.table("mycorpus").count_rows() == 59
    assert "d0003" not in json.dumps(load_eval_set(ws, "mycorpus").qrels)
    assert texts(at.title) == ["Migrate"]
    assert any("table 'mycorpus': 59 documents" in s for s in texts(at.success))
    assert at.button(key="migrate.start").label == "Start re-embedding"


def test_loose_files_and_a_server_path_are_validated_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "mine"
    open_workspace(target)
    files = small_beir(30)
    at = app_on(target, monkeypatch)
    at.switch_page("pages/migrate.py").run()
    at.file_uploader(key="migrate.upload_corpus").set_value(
        ("docs.jsonl", files["corpus.jsonl"], "text/plain")
    )
    at.file_uploader(key="migrate.upload_queries").set_value(
        ("q.jsonl", files["queries.jsonl"], "text/plain")
    )
    at.file_uploader(key="migrate.upload_qrels").set_value(
        ("rels.tsv", files["qrels/test.tsv"], "text/plain")
    )
    at.run()
    at.button(key="migrate.validate").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Documents"] == "30" and int(metrics["Judged queries"]) > 0

    at.radio(key="migrate.source").set_value("Path on the server").run()
    assert not any(m.label == "Documents" for m in at.metric)  # the inputs changed: validate again
    at.text_input(key="migrate.ingest_path").input(str(tmp_path / "nope")).run()
    at.button(key="migrate.validate").click().run()
    assert any("no such file or folder" in e for e in texts(at.error))
    assert open_workspace(target).table_names(include_internal=True) == []
