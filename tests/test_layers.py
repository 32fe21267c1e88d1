"""The architecture is a checked rule: packages depend only downward, and no modules form a cycle.

The layers are declared once, in ``pyproject.toml`` ``[tool.importlinter]`` (bottom to top:
errors; contract, checks, progress, killpoints, cache; models; metrics; corpus; store; retrieval;
embedding; comparison; decide; gate; production; monitoring; demo; cli). import-linter checks
every import, function-local and type-only ones included.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_packages_import_only_the_layers_below_them() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    out = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


def test_every_package_is_in_a_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    layered = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    children = {
        p.stem for p in (ROOT / "workbench").iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert children - {"__init__"} == layered


def test_no_import_cycle_between_modules() -> None:
    graph = grimp.build_graph("workbench", cache_dir=None)
    cycles = sorted(
        f"{importer} <-> {imported}"
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if "workbench" not in (importer, imported)
        and importer < imported
        and graph.chain_exists(importer=imported, imported=importer)
    )
    assert cycles == []
