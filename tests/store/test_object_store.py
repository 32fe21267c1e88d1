"""Workspaces on object storage: the whole migration flow against a real S3 server (moto).

ingest → embed (local and ray engines) → compare → promote → rollback → history → retire on
``s3://…``, storage options from ``workbench.toml`` with credentials by environment-variable
name (never written), and what LanceDB guarantees to concurrent writers there.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.scaleout_servers import S3Server
from workbench.comparison.run import compare
from workbench.contract import candidate_tag
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import ConfigError
from workbench.models.catalog import CATALOG
from workbench.production.history import history
from workbench.production.promote import promote, rollback
from workbench.production.retire import retire
from workbench.store.config import load_config
from workbench.store.production import production_column
from workbench.store.storage import StorageConfig
from workbench.store.workspace import Workspace, open_workspace, vector_columns

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
OLD, NEW = CATALOG["minilm-l3"], CATALOG["minilm-l6"]
KEY_VAR, SECRET_VAR = "WB_TEST_S3_KEY", "WB_TEST_S3_SECRET"


def s3_config(path: Path, server: S3Server) -> Path:
    path.write_text(
        "[storage]\n"
        f'endpoint = "{server.endpoint}"\n'
        'region = "us-east-1"\n'
        "allow_http = true\n"
        f'access_key_id_env = "{KEY_VAR}"\n'
        f'secret_access_key_env = "{SECRET_VAR}"\n'
    )
    return path


@pytest.fixture
def s3_ws(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """An empty workspace at ``s3://<new bucket>/ws``, configured through workbench.toml."""
    monkeypatch.setenv(KEY_VAR, "test")
    monkeypatch.setenv(SECRET_VAR, "secret-value-never-written")
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    bucket = s3_server.bucket()
    return open_workspace(f"s3://{bucket}/ws", config_path=s3_config(tmp_path / "workbench.toml", s3_server))


def test_the_whole_flow_runs_on_s3(
    s3_ws: Workspace, s3_server: S3Server, embedders, ray_cluster: str
) -> None:
    from workbench.embedding.ray_engine import RayOptions

    assert (
        not s3_ws.is_local and s3_ws.storage_options["aws_secret_access_key"] == "secret-value-never-written"
    )
    ingest(s3_ws, DEMO, table="demo", eval_set="demo")
    local = embed(s3_ws, "demo", OLD, embedder=embedders[OLD.column])
    ray = embed(s3_ws, "demo", NEW, engine="ray", ray=RayOptions(workers=1))
    table = s3_ws.table("demo")
    assert ray.created and ray.version == local.version + 1 == table.version
    assert {c.name for c in vector_columns(table)} == {OLD.column, NEW.column}
    assert table.tags.get_version(candidate_tag(NEW.column)) == ray.version
    assert table.to_arrow().column(NEW.column).null_count == 0
    first = promote(s3_ws, "demo", OLD.column, initial=True, reason="start")
    found = compare(s3_ws, baseline="minilm-l3", candidate="minilm-l6", eval_set="demo", embedders=embedders)
    promote(s3_ws, "demo", NEW.column, comparison=found.id, force=True, reason="test on s3")
    assert production_column(s3_ws.table("demo")) == NEW.column
    back = rollback(s3_ws, "demo", reason="test rollback")
    assert production_column(s3_ws.table("demo")) == OLD.column and back.to_column == OLD.column
    events = history(s3_ws, "demo")
    assert [e.action for e in events][-1] == "rollback" and events[0].to_column == first.to_column
    later = datetime.now(UTC) + timedelta(days=30)
    retired = retire(s3_ws, "demo", NEW.column, grace=timedelta(days=7), now=later, reason="s3")
    assert NEW.column not in s3_ws.table("demo").schema.names and retired.column == NEW.column
    assert s3_server.bytes_under(s3_ws.uri.split("/")[2], "ws/") > 0


def test_credentials_are_read_from_named_variables_and_never_written(
    s3_ws: Workspace, tmp_path: Path
) -> None:
    s3_ws.add_model("old", OLD)  # rewrites workbench.toml
    text = (tmp_path / "workbench.toml").read_text()
    assert KEY_VAR in text and SECRET_VAR in text and "secret-value-never-written" not in text
    assert load_config(tmp_path / "workbench.toml").storage == s3_ws.config.storage


def test_a_named_credential_variable_that_is_unset_is_one_clear_error(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VAR, raising=False)
    with pytest.raises(ConfigError, match=f"environment variable '{KEY_VAR}'.*not set; export {KEY_VAR}="):
        open_workspace("s3://any/ws", config_path=s3_config(tmp_path / "workbench.toml", s3_server))


def test_credentials_in_the_config_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "workbench.toml"
    path.write_text('[storage.options]\naws_secret_access_key = "oops"\n')
    with pytest.raises(ConfigError, match=r"must not hold credentials \(aws_secret_access_key\)"):
        load_config(path)


def test_storage_options_resolve_without_touching_the_process_environment() -> None:
    config = StorageConfig(endpoint="http://h:1", region="r", allow_http=True, access_key_id_env="K")
    assert config.resolve({"K": "v"}) == {
        "aws_endpoint": "http://h:1",
        "aws_region": "r",
        "allow_http": "true",
        "aws_access_key_id": "v",
    }


def test_the_standard_aws_variables_alone_are_enough(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old_embedder
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT": s3_server.endpoint,
        "AWS_ALLOW_HTTP": "true",
        "WORKBENCH_CACHE": str(tmp_path / "cache"),
    }.items():
        monkeypatch.setenv(name, value)
    ws = open_workspace(f"s3://{s3_server.bucket()}/ws")
    assert ws.storage_options is None
    ingest(ws, DEMO, table="demo", eval_set="demo")
    assert embed(ws, "demo", OLD, embedder=old_embedder).created


def _append(args: tuple[str, dict[str, str], int]) -> None:
    import lance
    import pyarrow as pa

    uri, options, i = args
    lance.write_dataset(pa.table({"id": [f"w{i}"]}), uri, mode="append", storage_options=options)


def test_concurrent_appends_on_s3_all_land(s3_server: S3Server) -> None:
    """LanceDB's guarantee on S3: a commit is a put-if-not-exists of the next manifest, so
    concurrent writers never overwrite each other; compatible ones (appends) retry and all land."""
    import lance
    import pyarrow as pa

    uri = f"s3://{s3_server.bucket()}/t.lance"
    lance.write_dataset(pa.table({"id": ["seed"]}), uri, storage_options=s3_server.options)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_append, [(uri, s3_server.options, i) for i in range(8)])
    dataset = lance.dataset(uri, storage_options=s3_server.options)
    assert sorted(dataset.to_table().column("id").to_pylist()) == sorted(
        ["seed", *(f"w{i}" for i in range(8))]
    )
    assert dataset.version == 9


def test_a_conflicting_commit_on_s3_is_a_clear_error_and_nothing_is_corrupted(
    s3_ws: Workspace, old_embedder
) -> None:
    """A column computed at version v, committed after another writer's append: refused."""
    import lance
    import pyarrow as pa

    from workbench.embedding.checkpoint import FragmentResult
    from workbench.embedding.commit import commit_fragments
    from workbench.errors import ConcurrentChangeError

    ingest(s3_ws, DEMO, table="demo", eval_set="demo")
    dataset = s3_ws.table("demo").to_lance()
    results = []
    for fragment in dataset.get_fragments():
        meta, schema = fragment.merge_columns(
            lambda b: pa.RecordBatch.from_arrays([pa.array([1] * b.num_rows)], names=["x"]), ["id"]
        )
        results.append(FragmentResult(fragment.fragment_id, fragment.count_rows(), meta, schema))
    rows = dataset.count_rows()
    row = {**dataset.to_table(limit=1).to_pylist()[0], "id": "added-by-another-writer"}
    s3_ws.table("demo").add([row])
    with pytest.raises(ConcurrentChangeError, match=r"another writer committed.*nothing was committed"):
        commit_fragments(
            dataset.uri, results, read_version=dataset.version, storage_options=s3_ws.storage_options
        )
    after = lance.dataset(dataset.uri, storage_options=s3_ws.storage_options)
    assert after.count_rows() == rows + 1 and "x" not in after.schema.names
    assert embed(s3_ws, "demo", OLD, embedder=old_embedder).created  # the table is still usable
