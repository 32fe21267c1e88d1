"""The documentation site builds offline with ``mkdocs build --strict`` and is complete.

The strict build fails on a broken link, a missing include or a docstring that does not parse.
On top of it: every command of the typer app has a section in the generated CLI reference, and
every name of the public namespace (``workbench.__all__``) is documented on the API page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
pytest.importorskip("mkdocstrings", reason="the docs extra is not installed (pip install -e '.[docs]')")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def _command_paths() -> Iterator[tuple[str, ...]]:
    """Every command of the typer app, as its words after ``workbench`` (groups and leaves)."""
    import typer.main

    from workbench.cli.app import app

    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            if getattr(sub, "hidden", False):
                continue
            yield (*path, name)
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


def test_cli_reference_has_every_command(site: Path) -> None:
    page = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    headings = set(re.findall(r'<h\d id="(workbench[-\w]*)"', page))
    paths = list(_command_paths())
    assert len(paths) > 20, paths  # the walk found the app's commands
    missing = [" ".join(p) for p in paths if "-".join(("workbench", *p)) not in headings]
    assert missing == [], f"commands without a section in the CLI reference: {missing}"


def test_api_page_documents_the_public_namespace(site: Path) -> None:
    import workbench

    page = (site / "api" / "index.html").read_text(encoding="utf-8")
    documented = set(re.findall(r'id="workbench\.(\w+)"', page))
    assert sorted(set(workbench.__all__) - documented) == []


def test_benchmarks_page_includes_benchmarks_md(site: Path) -> None:
    page = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    source = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+?) —", source, flags=re.MULTILINE)
    assert sections, "BENCHMARKS.md has no '## … —' sections"
    assert all(title.split(" (")[0] in page for title in sections), sections
    assert "--8&lt;--" not in page  # every include resolved


def _resolves(dotted: str) -> bool:
    """Whether ``workbench.a.b.c`` names a module or an attribute reachable from one."""
    import importlib

    parts = dotted.split(".")
    obj: object = None
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_docs_cite_names_that_exist() -> None:
    """``wb.NAME`` is a public name; ``workbench.a.b`` resolves (the API moves; the docs follow)."""
    import workbench

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    wrong = set()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for name in re.findall(r"\bwb\.([A-Za-z_]\w*)", text):
            if name not in workbench.__all__:
                wrong.add(f"{page.relative_to(ROOT)}: wb.{name} is not in workbench.__all__")
        for dotted in re.findall(r"\bworkbench(?:\.[A-Za-z_]\w*)+", text):
            if dotted != "workbench.toml" and not _resolves(dotted):
                wrong.add(f"{page.relative_to(ROOT)}: {dotted} does not resolve")
    assert sorted(wrong) == []
