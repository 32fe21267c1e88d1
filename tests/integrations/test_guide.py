"""The guide's examples are real: each Python block of docs/guides/integrations.md runs as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from workbench.production.serving import ProductionIndex
from workbench.store.workspace import open_workspace

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "integrations.md"
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_guide_has_one_example_per_framework() -> None:
    assert [("langchain" in b, "llama_index" in b) for b in BLOCKS] == [(True, False), (False, True)]
    assert all(len(block.strip().splitlines()) <= 12 for block in BLOCKS)


@pytest.mark.slow  # each example loads the pinned model itself, as a user's script does
@pytest.mark.parametrize("block", BLOCKS, ids=["langchain", "llama_index"])
def test_the_example_runs_against_the_demo_workspace(
    block: str, demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    shutil.copytree(demo_template, tmp_path / "workspace")
    monkeypatch.chdir(tmp_path)  # the examples open ./workspace, as `workbench demo` builds it
    exec(compile(block, str(GUIDE), "exec"), {"__name__": "__guide__"})
    top = ProductionIndex.open(open_workspace(tmp_path / "workspace"), "demo").search(
        "how do I undo a bad model release?", k=1
    )
    out = capsys.readouterr().out
    assert top.column in out and top.hits[0].id in out
