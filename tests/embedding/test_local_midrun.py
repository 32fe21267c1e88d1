"""A local model whose files change while its column is being embedded (issue 22, item 1).

The file pin (sha256 of the model's files) is verified when the model loads; it is verified
again just before the commit, so files replaced during a long run never reach a column.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.servers import mini_demo
from workbench.embedding.checkpoint import pending_run
from workbench.embedding.ingest import ingest
from workbench.embedding.run import embed
from workbench.errors import FingerprintMismatchError
from workbench.models.catalog import CATALOG
from workbench.models.sources.local import pin_directory, resolve_model_dir
from workbench.store.workspace import open_workspace


@pytest.mark.slow
def test_model_files_changed_before_the_commit_commit_nothing(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(resolve_model_dir(CATALOG["minilm-l3"]), model_dir)
    ref = pin_directory(model_dir, name="copied-l3", revision="test-1")
    ws = open_workspace(tmp_path / "ws")
    ingest(ws, mini_demo(tmp_path / "mini", n_docs=24), table="mini")
    before = ws.table("mini").version

    def replace_files(done: int, total: int) -> None:
        if done == total:  # every batch is checkpointed; the files change before the commit
            config = model_dir / "config.json"
            config.write_text(config.read_text() + "\n")

    with pytest.raises(FingerprintMismatchError, match=r"fingerprint.*24 checkpointed rows were discarded"):
        embed(ws, "mini", ref, batch_size=8, on_progress=replace_files)
    table = ws.table("mini")
    assert table.version == before and ref.column not in table.schema.names
    assert pending_run(ws, "mini", ref) is None
