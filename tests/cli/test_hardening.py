"""A hardened edge: every failure is one line and exit 2, bad input is refused, untrusted text is inert.

Each case here was a traceback (exit 1), a silent wrong result or an active payload before.
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import lancedb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.comparison.report import escape_markdown, inert_cell, render_csv, render_markdown
from workbench.corpus.readers import read_corpus, read_qrels
from workbench.errors import (
    ConcurrentChangeError,
    CorruptStateError,
    DataError,
    InvalidArgumentError,
    MixedIndexError,
    StorageError,
    UnsafeWeightsError,
)
from workbench.models.catalog import CATALOG
from workbench.models.fingerprint import check_weights_safe
from workbench.models.sources.local import resolve_model_dir
from workbench.store.comparisons import list_comparisons, load_comparison
from workbench.store.failures import explain
from workbench.store.paths import require_inside
from workbench.store.workspace import Workspace, open_workspace

runner = CliRunner()


def one_line_exit_2(args: list[str], match: str) -> str:
    """Run the CLI; it must exit 2 with exactly one line on stderr matching ``match``."""
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    # model-loading progress bars (tqdm, "... it/s]") are off in the real CLI (`main` disables them)
    lines = [line for line in result.stderr.splitlines() if line.strip() and "it/s]" not in line]
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert len(lines) == 1, lines
    assert pytest.importorskip("re").search(match, lines[0]), lines[0]
    return lines[0]


def _jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")} if folder.exists() else set()


# --- bad input: one line, exit 2, nothing written ------------------------------------------------

BAD_INPUT: list[tuple[str, Callable[[Path], list[str]], str]] = [
    (
        "lone-surrogate",
        lambda d: ["ingest", str(_jsonl(d / "c.jsonl", [{"_id": "a", "text": "ok \ud800 no"}]))],
        r"c\.jsonl:1: 'text' contains '\\ud800'.*lone UTF-16 surrogate",
    ),
    (
        "long-table-name",
        lambda d: ["ingest", str(_jsonl(d / "c.jsonl", [{"_id": "a", "text": "x"}])), "-t", "t" * 251],
        r"table name of 251 characters is too long; use at most 200",
    ),
    (
        "corrupt-parquet",
        lambda d: ["ingest", str(_write(d / "c.parquet", b"PAR1 this is not parquet PAR1"))],
        r"c\.parquet: not a readable Parquet file",
    ),
    (
        "unterminated-csv-quote",
        lambda d: ["ingest", str(_write(d / "c.csv", b'id,text\n1,"first row\n2,second row\n'))],
        r"c\.csv:3: malformed CSV .*quoted value is not closed",
    ),
    (
        "float-id",
        lambda d: ["ingest", str(_jsonl(d / "c.jsonl", [{"_id": 1.5, "text": "x"}]))],
        r"'_id' is a float \(1\.5\); an id must be a string or an integer",
    ),
    (
        "bool-id",
        lambda d: ["ingest", str(_jsonl(d / "c.jsonl", [{"_id": True, "text": "x"}]))],
        r"'_id' is a bool",
    ),
    (
        "list-title",
        lambda d: ["ingest", str(_jsonl(d / "c.jsonl", [{"_id": "a", "title": ["t"], "text": "x"}]))],
        r"document 'a' has a list as 'title'; a title must be text",
    ),
    (
        "huge-qrels-grade",
        lambda d: ["ingest", str(_beir(d, "q1\ta\t99999999999999999999999\n"))],
        r"relevance 99999999999999999999999 is outside -1000\.\.1000",
    ),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _beir(folder: Path, qrels: str) -> Path:
    beir = folder / "mini"
    (beir / "qrels").mkdir(parents=True)
    _jsonl(beir / "corpus.jsonl", [{"_id": "a", "text": "alpha"}])
    _jsonl(beir / "queries.jsonl", [{"_id": "q1", "text": "alpha?"}])
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels, encoding="utf-8")
    return beir


@pytest.mark.parametrize(("case", "args", "match"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_one_line_exit_2_and_creates_nothing(
    case: str, args: Callable[[Path], list[str]], match: str, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"  # does not exist: a failing command must not create it
    one_line_exit_2([*args(tmp_path), "-w", str(workspace)], match)
    assert not workspace.exists()


def test_bad_input_into_an_existing_workspace_writes_nothing(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    good = _jsonl(tmp_path / "good.jsonl", [{"_id": "a", "text": "alpha"}])
    assert runner.invoke(app, ["ingest", str(good), "-t", "docs", "-w", str(workspace)]).exit_code == 0
    before = _tree(workspace)
    for case, args, match in BAD_INPUT:
        if case != "long-table-name":
            (tmp_path / case).mkdir()
            one_line_exit_2([*args(tmp_path / case), "-t", "docs", "-w", str(workspace)], match)
    assert _tree(workspace) == before


def test_read_only_commands_do_not_create_a_workspace(tmp_path: Path) -> None:
    for command in (["status"], ["history"], ["check"], ["search", "x"], ["rollback"], ["comparisons"]):
        missing = tmp_path / "nowhere"
        result = runner.invoke(app, [*command, "-w", str(missing)])
        if result.exit_code == 2 and "No such command" not in result.stderr:
            assert "workspace" in result.stderr and "does not exist" in result.stderr
        assert not missing.exists(), command


def test_ingest_help_names_the_real_default_table() -> None:
    text = " ".join(runner.invoke(app, ["ingest", "--help"]).output.replace("│", " ").split())
    assert "default: the folder or file name" in text and "default: the only one" not in text


def test_readers_refuse_what_used_to_get_through(tmp_path: Path) -> None:
    merged = _write(tmp_path / "m.csv", b'id,text\n1,"one\n2,two\n3,three\n')
    with pytest.raises(DataError, match=r"m\.csv:4: malformed CSV"):
        read_corpus(merged)
    ok = _write(tmp_path / "ok.csv", b'id,text\n1,"multi\nline ""quoted"""\n2,two\n')
    assert read_corpus(ok).column("text").to_pylist() == ['multi\nline "quoted"', "two"]
    qrels = _write(tmp_path / "q.tsv", b"q1\ta\t-1001\n")
    with pytest.raises(DataError, match=r"q\.tsv:1: relevance -1001 is outside"):
        read_qrels(qrels)
    assert read_qrels(_write(tmp_path / "g.tsv", b"q1\ta\t3\nq1\tb\t-1\n")) == {"q1": {"a": 3, "b": -1}}


# --- system and storage failures ---------------------------------------------------------------


def test_options_out_of_range_are_one_line(demo_ws: Workspace) -> None:
    one_line_exit_2(
        ["retire", "minilm-l3", "--grace", "999999999999d", "-w", demo_ws.uri], r"longer than 100 years"
    )


def test_report_out_a_folder_or_unwritable(compared_ws: Workspace, tmp_path: Path) -> None:
    cid = list_comparisons(compared_ws)["id"].iloc[0]
    one_line_exit_2(
        ["report", cid, "--out", str(tmp_path), "-w", compared_ws.uri], r"is a folder; give a file name"
    )
    (tmp_path / "file").write_text("x")
    one_line_exit_2(
        ["report", cid, "--out", str(tmp_path / "file" / "r.html"), "-w", compared_ws.uri],
        r"cannot write .*give a writable file path",
    )


def test_deleted_data_files_are_named_as_damage(demo_ws: Workspace) -> None:
    for data in (Path(demo_ws.uri) / "demo.lance" / "data").glob("*.lance"):
        data.unlink()
    one_line_exit_2(["status", "-w", demo_ws.uri], r"workspace data is missing or damaged .*Restore")


def test_truncated_manifest_is_named_as_damage(demo_ws: Workspace) -> None:
    versions = Path(demo_ws.uri) / "demo.lance" / "_versions"
    for manifest in versions.glob("*.manifest"):
        manifest.write_bytes(manifest.read_bytes()[:40])
    one_line_exit_2(["status", "-w", demo_ws.uri], r"(missing or damaged|cannot be read)")


def test_check_with_the_history_data_missing(demo_ws: Workspace) -> None:
    for data in (Path(demo_ws.uri) / "wb_promotions.lance" / "data").glob("*"):
        data.unlink()
    one_line_exit_2(["check", "-w", demo_ws.uri], r"workspace data is missing or damaged")


def test_a_real_commit_conflict_is_a_concurrent_change(tmp_path: Path) -> None:
    db = lancedb.connect(tmp_path / "db")
    db.create_table("t", pa.table({"id": ["a", "b"], "x": [1, 2]}))
    first, second = db.open_table("t"), db.open_table("t")
    first.merge(pa.table({"id": ["a", "b"], "y": [1, 2]}), left_on="id")
    with pytest.raises(Exception) as caught:
        second.merge(pa.table({"id": ["a", "b"], "z": [1, 2]}), left_on="id")
    error = explain(caught.value)
    assert isinstance(error, ConcurrentChangeError)
    assert "committed a Merge" in str(error) and "Re-running it is safe" in str(error)


def test_a_bug_is_not_disguised() -> None:
    assert explain(KeyError("x")) is None and explain(ZeroDivisionError()) is None


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MB tmpfs (needs privileges to mount; skipped without them)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_and_read_only_workspace_are_one_line(small_disk: Path, tmp_path: Path) -> None:
    workspace = small_disk / "ws"
    good = _jsonl(tmp_path / "good.jsonl", [{"_id": "a", "text": "alpha"}])
    assert runner.invoke(app, ["ingest", str(good), "-t", "docs", "-w", str(workspace)]).exit_code == 0
    filler = small_disk / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    big = _jsonl(tmp_path / "big.jsonl", [{"_id": f"d{i}", "text": "word " * 200} for i in range(400)])
    before = open_workspace(workspace).table("docs").version
    one_line_exit_2(["ingest", str(big), "-t", "docs", "-w", str(workspace)], r"disk is full|cannot write")
    assert open_workspace(workspace).table("docs").version == before
    one_line_exit_2(["ingest", str(big), "-t", "newt", "-w", str(workspace)], r"disk is full|cannot write")
    assert open_workspace(workspace).table_names() == ["docs"]  # whole or not at all
    assert runner.invoke(app, ["status", "-w", str(workspace)]).exit_code == 0
    filler.unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    one_line_exit_2(["ingest", str(big), "-t", "docs", "-w", str(workspace)], r"read-only|cannot write")


def test_storage_errors_name_the_fix() -> None:
    full = explain(OSError(errno.ENOSPC, "No space left on device", "/ws/t.lance"))
    assert isinstance(full, StorageError) and "Free some space" in str(full)
    read_only = explain(OSError(errno.EROFS, "Read-only file system"))
    assert isinstance(read_only, StorageError) and "writable --workspace" in str(read_only)
    damaged = explain(OSError("LanceError(IO): Not found: /ws/t.lance/data/x.lance"))
    assert isinstance(damaged, CorruptStateError)


# --- untrusted text stays inert ---------------------------------------------------------------


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("http://x")', "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
)
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert inert_cell(cell) == "'" + cell
    assert inert_cell("plain") == "plain" and inert_cell(-1.5) == -1.5


def test_csv_report_neutralises_query_text(compared_ws: Workspace) -> None:
    cmp = load_comparison(compared_ws, list_comparisons(compared_ws)["id"].iloc[0])
    cmp.per_query.loc[cmp.per_query.index[0], "query"] = "=cmd|' /C calc'!A0"
    rendered = render_csv(cmp)
    assert "'=cmd|" in rendered and "\n=cmd" not in rendered and ",=cmd" not in rendered


# --- model files -------------------------------------------------------------------------------


def test_pickle_in_any_module_folder_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(resolve_model_dir(CATALOG["minilm-l6"]), model)
    check_weights_safe(model, allow_pickle=False)  # safetensors at the root: fine
    (model / "2_Dense").mkdir()
    (model / "2_Dense" / "pytorch_model.bin").write_bytes(b"a pickle would run code here")
    with pytest.raises(UnsafeWeightsError, match=r"2_Dense/pytorch_model\.bin.*arbitrary code"):
        check_weights_safe(model, allow_pickle=False)
    check_weights_safe(model, allow_pickle=True)


# --- the app: untrusted text as text, write actions confined to an allowed root -------------------


def test_markdown_escaping_makes_payloads_inert() -> None:
    payload = "![x](http://attacker.example/b.png) <img src=x onerror=alert(1)> [link](http://x) *em*"
    escaped = escape_markdown(payload)
    assert "![" not in escaped and "](" not in escaped and "<img" not in escaped and "*em*" not in escaped
    assert escaped.count("\\") >= 10 and "\n" not in escape_markdown("a\nb")


def test_markdown_report_keeps_query_text_inert(compared_ws: Workspace) -> None:
    cmp = load_comparison(compared_ws, list_comparisons(compared_ws)["id"].iloc[0])
    cmp.per_query["query"] = "![x](http://attacker.example/b.png)"
    rendered = render_markdown(cmp)
    assert "attacker.example" in rendered  # the text is shown ...
    assert "![x](" not in rendered and "\\!\\[x\\]\\(" in rendered  # ... as text, not as an image


def test_require_inside_an_allowed_root(tmp_path: Path) -> None:
    root = tmp_path / "allowed"
    (root / "data").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    assert require_inside(root / "data", root) == (root / "data").resolve()
    assert require_inside("/etc", None) == Path("/etc").resolve()
    for outside in (tmp_path / "secret", root / ".." / "secret", Path("/etc/passwd")):
        with pytest.raises(InvalidArgumentError, match=r"outside the allowed root .*WORKBENCH_ALLOWED_ROOT"):
            require_inside(outside, root)
    (root / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(InvalidArgumentError, match="outside the allowed root"):
        require_inside(root / "link", root)


def test_app_refuses_server_paths_outside_the_allowed_root(
    demo_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.app.test_app import start, texts

    allowed = tmp_path / "allowed"
    allowed.mkdir()
    shutil.move(demo_ws.uri, allowed / "demo-ws")  # the workspace itself must lie inside the root
    demo_ws = open_workspace(allowed / "demo-ws", create=False)
    outside = _jsonl(tmp_path / "outside.jsonl", [{"_id": "z", "text": "zebra"}])
    monkeypatch.setenv("WORKBENCH_ALLOWED_ROOT", str(allowed))
    tables = demo_ws.table_names(include_internal=True)
    at = start(demo_ws, monkeypatch, "migrate")
    at.radio(key="migrate.source").set_value("Path on the server").run()  # the onboarding form
    at.text_input(key="migrate.ingest_path").input(str(outside))
    at.button(key="migrate.validate").click().run()
    assert any("outside the allowed root" in e for e in texts(at.error))
    at.text_input(key="migrate.pin_path").input(str(tmp_path))
    at.text_input(key="migrate.pin_alias").input("x")
    at.text_input(key="migrate.pin_revision").input("v1")
    next(b for b in at.button if b.label == "Pin model").click().run()
    assert sum("outside the allowed root" in e for e in texts(at.error)) >= 1
    assert demo_ws.table_names(include_internal=True) == tables


# --- a column's settings, new tables ---------------------------------------------------------------


def test_same_weights_with_other_settings_do_not_pass_as_the_existing_column(demo_ws: Workspace) -> None:
    from workbench.embedding.run import embed

    changed = CATALOG["minilm-l6"].model_copy(update={"document_prefix": "passage: "})
    assert changed.column == CATALOG["minilm-l6"].column
    before = demo_ws.table("demo").version
    with pytest.raises(MixedIndexError, match=r"document_prefix '' → 'passage: '.*retire it first"):
        embed(demo_ws, "demo", changed)
    assert demo_ws.table("demo").version == before


def test_a_half_created_table_does_not_brick_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    good = _jsonl(tmp_path / "good.jsonl", [{"_id": "a", "text": "alpha"}])
    assert runner.invoke(app, ["ingest", str(good), "-t", "docs", "-w", str(workspace)]).exit_code == 0
    (workspace / "newt.lance" / "_versions").mkdir(parents=True)  # what a crash mid-create left before
    (workspace / "newt.lance" / "data").mkdir()
    status = runner.invoke(app, ["status", "-w", str(workspace), "--json"])
    assert status.exit_code == 0 and [t["name"] for t in json.loads(status.output)["tables"]] == ["docs"]
    again = runner.invoke(app, ["ingest", str(good), "-t", "newt", "-w", str(workspace)])
    assert again.exit_code == 0, again.stderr
    assert open_workspace(workspace).table("newt").count_rows() == 1
