"""The wheel is complete: every package, the demo corpus and the app ship in it, and it runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _listed_packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["setuptools"]["packages"])


def test_every_package_folder_is_listed_in_pyproject() -> None:
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("workbench", "workbench_app")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found - set(_listed_packages()) == set(), "add the new package to [tool.setuptools] packages"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy of the files git would ship, so no stale build/ of the checkout leaks in.
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("embedding_workbench-*.whl")
    return path


def test_wheel_holds_the_demo_corpus_and_the_app(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "workbench/corpus/demo_data/corpus.jsonl",
        "workbench/corpus/demo_data/queries.jsonl",
        "workbench/corpus/demo_data/qrels/test.tsv",
        "workbench_app/site/app.py",
        "workbench_app/site/pages/compare.py",
        "workbench_app/ui.py",
    ):
        assert expected in names
    assert not any(n.startswith(("tests/", "bench/", "notebooks/")) for n in names)


@pytest.mark.slow
def test_installed_wheel_runs_workbench_demo_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    # The wheel's code first on the path; its dependencies from this environment. No checkout in reach.
    env = {**os.environ, "PYTHONPATH": str(target), "HF_HUB_OFFLINE": "1"}
    code = "import workbench, workbench_app.site; from workbench.cli import main; main()"
    check = subprocess.run(
        [sys.executable, "-c", "import workbench; print(workbench.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert check.stdout.startswith(str(target))
    result = subprocess.run(
        [sys.executable, "-c", code, "demo", "--workspace", str(tmp_path / "ws")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "demo workspace ready" in result.stdout
    entry = subprocess.run(
        [sys.executable, "-c", "from workbench.cli.serve_app import app_entry; print(app_entry())"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert entry.stdout.strip() == str(target / "workbench_app" / "site" / "app.py")
