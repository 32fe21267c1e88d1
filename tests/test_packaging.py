"""The wheel is complete: every package, the demo corpus and the app ship in it, and it runs."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
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
        "workbench_app/site/.streamlit/config.toml",
        "workbench_app/shell.py",
        "workbench_app/ui.py",
    ):
        assert expected in names
    # Streamlit reads the config next to the entry script: the installed app hides its own page list too
    config = tomllib.loads(zipfile.ZipFile(wheel).read("workbench_app/site/.streamlit/config.toml").decode())
    assert config["client"]["showSidebarNavigation"] is False
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
    code = "import workbench, workbench_app.site; from workbench.cli.app import main; main()"
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
    app_env = {**env, "WORKBENCH_WORKSPACE": str(tmp_path / "ws")}
    pages = subprocess.run(
        [sys.executable, "-c", APP_PAGES, entry.stdout.strip()],
        cwd=tmp_path, env=app_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert pages.returncode == 0, pages.stderr[-2000:]
    assert pages.stdout.splitlines() == [
        "app.py: Workspace · demo: Workspace Decide Migrate Compare Live query Promote Reports Monitor",
        "pages/compare.py: Compare: Workspace Decide Migrate Compare Live query Promote Reports Monitor",
        "pages/workspace.py: Workspace · demo: Workspace Decide Migrate Compare Live query Promote Reports Monitor",
    ]
    _serve_and_open_a_page_first(app_env, tmp_path)


# The installed app's entry page and a page in AppTest: "page: heading: sidebar links".
APP_PAGES = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=300).run()
for page in ("app.py", "pages/compare.py", "pages/workspace.py"):
    at.switch_page(page).run()
    assert not at.exception, (page, at.exception)
    links = " ".join(link.proto.label for link in at.sidebar.get("page_link"))
    print(f"{page}: {at.title[0].value}: {links}")
"""


def _serve_and_open_a_page_first(env: dict[str, str], cwd: Path) -> None:
    """``workbench app`` from the wheel; with chromium at hand, a page opened first has the sidebar's links."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    code = "from workbench.cli.app import main; main()"
    log = cwd / "app.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", code, "app", "--port", str(port)],
            cwd=cwd, env={**env, "STREAMLIT_SERVER_HEADLESS": "true"}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        chromium = shutil.which("chromium")
        if chromium is None or importlib.util.find_spec("playwright") is None:
            return  # the browser tests check the page itself; here the server started from the wheel
        from playwright.sync_api import expect, sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"{url}/reports")
            expect(page.get_by_role("heading", level=1).first).to_have_text("Reports", timeout=120_000)
            links = page.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]')
            expect(links).to_have_count(8)
            expect(page.locator('[data-testid="stSidebarNav"]')).to_have_count(0)  # Streamlit's list: hidden
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
