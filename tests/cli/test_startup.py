"""Light commands start light: what ``--help``, ``status``, ``models`` and ``history`` import.

``import lancedb`` costs more than a second (its generated REST client), torch and
sentence-transformers several; a command that only reads must not pay for them. Each command
runs in a fresh interpreter and reports the heavy modules it imported; ``status`` read through
pylance alone must say exactly what the LanceDB path says.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict

import pytest

from workbench.demo import DEMO_TABLE, NEW_MODEL, OLD_MODEL
from workbench.models.catalog import CATALOG
from workbench.store.index import IndexSpec, build_index
from workbench.store.status import table_status, workspace_status
from workbench.store.workspace import Workspace

HEAVY = ("lancedb", "torch", "sentence_transformers", "transformers", "scipy", "streamlit", "ray")

_RUN = """
import json, sys
from workbench.cli.app import main
sys.argv = ["workbench", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
watched = ("lancedb", "torch", "sentence_transformers", "transformers", "scipy", "streamlit", "ray",
           "pyarrow", "numpy", "pandas", "lance")
print(json.dumps({"code": code, "imported": [m for m in watched if m in sys.modules]}), file=sys.stderr)
"""


def run_cli(args: list[str]) -> tuple[int, list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(args)], capture_output=True, text=True, timeout=300
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return int(report["code"] or 0), report["imported"], done.stdout


@pytest.fixture
def served_ws(demo_ws: Workspace) -> Workspace:
    """The demo (its old model in production, one promotion in the history) with an index."""
    table = demo_ws.table(DEMO_TABLE)
    column = demo_ws.resolve_column(table, NEW_MODEL)
    build_index(table, column, spec=IndexSpec(index_type="IVF_FLAT", num_partitions=2, nprobes=2))
    return demo_ws


def test_help_imports_no_data_library() -> None:
    code, imported, out = run_cli(["--help"])
    assert code == 0 and "status" in out
    assert imported == [], f"--help imported {imported}"


@pytest.mark.slow
def test_status_models_and_history_never_import_lancedb_or_a_model(served_ws: Workspace) -> None:
    for args in (["status", "--json"], ["models", "--json"], ["history", "--json"]):
        code, imported, out = run_cli([*args, "-w", served_ws.uri])
        assert code == 0, (args, out)
        assert not set(imported) & set(HEAVY), f"{args[0]} imported {sorted(set(imported) & set(HEAVY))}"
        json.loads(out)


def test_status_through_pylance_says_what_the_lancedb_table_says(served_ws: Workspace) -> None:
    with_lancedb = asdict(table_status(served_ws.table(DEMO_TABLE)))
    with_pylance = asdict(table_status(served_ws.view(DEMO_TABLE)))
    assert with_pylance == with_lancedb
    column = next(c for c in with_pylance["columns"] if c["name"] == CATALOG[NEW_MODEL].column)
    assert column["index"].startswith("IVF_FLAT") and column["unindexed_rows"] == 0
    assert with_pylance["active_column"] == CATALOG[OLD_MODEL].column

    code, _, out = run_cli(["status", "--json", "-w", served_ws.uri])
    assert code == 0
    assert json.loads(out)["tables"] == json.loads(json.dumps(workspace_status(served_ws)["tables"]))


def test_unindexed_rows_are_counted_from_the_manifest(served_ws: Workspace) -> None:
    import pyarrow as pa

    table = served_ws.table(DEMO_TABLE)
    extra = table.to_arrow().slice(0, 3)
    extra = extra.set_column(0, "id", pa.array([f"new-{i}" for i in range(3)]))
    table.add(extra)  # written after the index was built: searched exactly beside it
    column = CATALOG[NEW_MODEL].column
    through_view = {c.name: c for c in table_status(served_ws.view(DEMO_TABLE)).columns}[column]
    through_lancedb = {c.name: c for c in table_status(served_ws.table(DEMO_TABLE)).columns}[column]
    assert through_view.unindexed_rows == through_lancedb.unindexed_rows == 3
