"""The README's CLI tour runs as written, in order, in a fresh workspace: a drift fails here.

The commands are read from README.md's tour section (every ``bash`` block in it), and run as one
bash script through the real ``workbench`` console script. Two things differ from a person's
shell, both stated: ``source .venv/bin/activate`` is this interpreter's ``bin`` on ``PATH`` (the
same thing in a checkout, and a venv anywhere else), and ``/tmp/wb-tour`` is a temporary folder.
Lines whose comment starts with ``# illustrative`` (a download, say) are skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## A tour of the CLI"
ACTIVATE = "source .venv/bin/activate"


def tour_lines(readme: str) -> list[str]:
    """The tour's command lines as written, illustrative ones left out."""
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines() if line.strip()]
    return [line for line in lines if not re.search(r"#\s*illustrative\b", line)]


def test_the_tour_is_found_and_marks_its_illustrative_lines() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = tour_lines(readme)
    assert lines[0] == ACTIVATE and any(line.startswith("workbench promote") for line in lines)
    assert not any("curl" in line for line in lines)
    assert any("--initial" in line and "minilm-l3" in line for line in lines), (
        "first production: the old model"
    )


@pytest.mark.slow
def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    lines = tour_lines((ROOT / "README.md").read_text(encoding="utf-8"))
    assert lines[0] == ACTIVATE
    body = "\n".join(lines[1:]).replace("/tmp/wb-tour", str(tmp_path / "wb-tour"))
    script = f"set -eo pipefail\ntrap 'echo \"README tour failed at: $BASH_COMMAND\" >&2' ERR\n{body}\n"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("WORKBENCH_WORKSPACE", None)
    env.pop("WORKBENCH_CONFIG", None)
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "first production" in out and "[gate GO on cmp-" in out
    assert "rolled back 'demo'" in out and "retired vec__all_minilm_l6_v2" in out
    assert (tmp_path / "wb-tour-report.html").is_file()
