"""Kill -9 at every step boundary of promote, refresh, rollback, retire and new-table ingest.

For each command and each step it passes (``workbench.killpoints.STEPS``), a fresh copy of a
prepared workspace is made, the real CLI runs in a subprocess with ``WORKBENCH_KILL_AT=<step>``
and SIGKILLs itself exactly there; then:

1. after the kill, ``status``, ``check`` and ``search`` must name the same production column,
   and the history must agree with it or ``check`` must say which command was interrupted;
2. the same command is run again (no kill): exit 0, or exit 2 with one line when the first
   run had in fact completed ("already production", "nothing earlier to roll back to");
3. after the rerun all four agree, nothing is reported unfinished, and the workspace is in the
   state an uninterrupted run leaves (the column the command asked for is production, a
   retired column is gone, an ingested table is whole).

Usage (reports counts; exit 1 on any failure)::

    HF_HUB_OFFLINE=1 python bench/killpoints.py [--only rollback] [--root /tmp/kp]

The test suite runs the same trials (``tests/production/test_killpoints.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.killpoints import ENV, STEPS
from workbench.models.catalog import CATALOG
from workbench.store.workspace import open_workspace

REPO = Path(__file__).resolve().parents[1]
TABLE = "demo"
NEW_TABLE = "newt"
OLD = CATALOG[OLD_MODEL].column
NEW = CATALOG[NEW_MODEL].column


@dataclass(frozen=True)
class Scenario:
    """A command to interrupt: its CLI arguments, its starting workspace and the state it must reach."""

    command: str
    template: Path
    args: tuple[str, ...]
    production: str
    gone: str | None = None
    new_table_rows: int | None = None


@dataclass
class Report:
    """Counts over all trials, and what failed."""

    trials: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, name: str, problems: list[str]) -> None:
        self.trials += 1
        self.failures += [f"{name}: {p}" for p in problems]


def cli(
    workspace: Path, args: tuple[str, ...], *, kill_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``workbench ARGS -w WORKSPACE`` in a real subprocess (optionally killed at a step)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop(ENV, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    if kill_at is not None:
        env[ENV] = kill_at
    command = [sys.executable, "-m", "workbench.cli", *args, "-w", str(workspace)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def rerun(workspace: Path, args: tuple[str, ...]) -> tuple[int, str]:
    """Run the CLI again in this process (no kill point): ``(exit code, stderr)``.

    In-process saves a Python start-up per trial; the code path is the CLI's own.
    """
    from typer.testing import CliRunner

    from workbench.cli.app import app

    os.environ.pop(ENV, None)
    result = CliRunner().invoke(app, [*args, "-w", str(workspace)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return 1, f"{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.stderr


def observe(workspace: Path, table: str, embedders: Mapping[str, Any]) -> dict[str, Any]:
    """What status, check, search and the history say production is (in this process)."""
    from workbench.production.history import history
    from workbench.production.serving import check, search
    from workbench.store.status import table_status

    ws = open_workspace(workspace)
    status = table_status(ws.table(table))
    seen: dict[str, Any] = {"status": status.active_column, "unfinished": status.unfinished}
    embedder = embedders.get(status.active_column or "")
    report = check(ws, table, embedder=embedder)
    seen["check"] = report.column
    seen["check_ok"] = report.ok
    seen["notes"] = list(report.notes)
    seen["search"] = search(ws, "rice", table=table, k=1, embedder=embedder).column if report.ok else None
    moves = [e for e in history(ws, table) if e.action != "retire"]
    seen["history"] = moves[-1].to_column if moves else None
    seen["columns"] = [c.name for c in ws.vector_columns(ws.table(table))]
    seen["rows"] = ws.table(table).count_rows()
    seen["tables"] = ws.table_names()
    return seen


def agree(seen: dict[str, Any], *, settled: bool) -> list[str]:
    """Problems: readers that disagree; after a rerun (``settled``) also any unfinished note."""
    problems = []
    if not seen["check_ok"]:
        problems.append(f"check failed: {seen}")
    if len({seen["status"], seen["check"], seen["search"]}) != 1:
        problems.append(f"status/check/search disagree: {seen}")
    interrupted = [n for n in seen["notes"] if "interrupted" in n] + seen["unfinished"]
    if seen["history"] != seen["status"] and not interrupted:
        problems.append(
            f"history says {seen['history']}, production is {seen['status']}, and nothing says why"
        )
    if settled and interrupted:
        problems.append(f"still unfinished after the rerun: {interrupted}")
    return problems


def trial(scenario: Scenario, step: str, root: Path, embedders: Mapping[str, Any]) -> list[str]:
    """Kill ``scenario`` at ``step`` in a fresh copy, check, re-run, check again."""
    workspace = root / f"{scenario.command}-{step.replace(':', '-')}"
    shutil.rmtree(workspace, ignore_errors=True)
    shutil.copytree(scenario.template, workspace)
    killed = cli(workspace, scenario.args, kill_at=step)
    if killed.returncode != -9:
        return [f"expected SIGKILL at {step}, got exit {killed.returncode}: {killed.stderr.strip()[-300:]}"]
    seen = observe(workspace, TABLE, embedders)
    problems = [f"after the kill: {p}" for p in agree(seen, settled=False)]
    if scenario.new_table_rows is not None:
        problems += _whole_or_absent(workspace, scenario.new_table_rows)
    code, stderr = rerun(workspace, scenario.args)
    lines = [line for line in stderr.splitlines() if line.strip()]
    if code not in (0, 2) or (code == 2 and len(lines) != 1):
        problems.append(f"rerun exit {code}: {stderr.strip()[-400:]}")
    seen = observe(workspace, TABLE, embedders)
    problems += [f"after the rerun: {p}" for p in agree(seen, settled=True)]
    if seen["status"] != scenario.production:
        problems.append(f"after the rerun production is {seen['status']}, expected {scenario.production}")
    if scenario.gone is not None and scenario.gone in seen["columns"]:
        problems.append(f"{scenario.gone} is still a column after the rerun")
    if scenario.new_table_rows is not None:
        if NEW_TABLE not in seen["tables"]:
            problems.append(f"{NEW_TABLE!r} does not exist after the rerun")
        problems += _whole_or_absent(workspace, scenario.new_table_rows)
    return problems


def _whole_or_absent(workspace: Path, rows: int) -> list[str]:
    """A new table is either not listed at all or has every row."""
    ws = open_workspace(workspace)
    if NEW_TABLE not in ws.table_names():
        return []
    have = ws.table(NEW_TABLE).count_rows()
    return [] if have == rows else [f"{NEW_TABLE!r} is listed with {have} of {rows} rows"]


def prepare(base: Path, comparison_id: str, embedders: Mapping[str, Any], corpus: Path) -> list[Scenario]:
    """The starting workspaces, built from ``base`` (the demo with one stored comparison)."""
    from workbench.embedding.ingest import ingest
    from workbench.production.promote import promote

    root = base.parent
    promoted = root / "kp-promoted"
    shutil.rmtree(promoted, ignore_errors=True)
    shutil.copytree(base, promoted)
    promote(open_workspace(promoted), TABLE, NEW_MODEL, comparison=comparison_id)
    grown = root / "kp-grown"
    shutil.rmtree(grown, ignore_errors=True)
    shutil.copytree(base, grown)
    ingest(open_workspace(grown), corpus, table=TABLE, embedders=embedders)
    rows = sum(1 for line in corpus.read_text().splitlines() if line.strip())
    return [
        Scenario("promote", base, ("promote", NEW_MODEL, "-c", comparison_id, "-t", TABLE), NEW),
        Scenario("refresh", grown, ("refresh", "-t", TABLE), OLD),
        Scenario("rollback", promoted, ("rollback", "-t", TABLE), OLD),
        Scenario("retire", promoted, ("retire", OLD_MODEL, "--grace", "0", "-t", TABLE), NEW, gone=OLD),
        Scenario("ingest", base, ("ingest", str(corpus), "-t", NEW_TABLE), OLD, new_table_rows=rows),
    ]


def new_documents(path: Path) -> Path:
    """A small corpus file: the new-table ingest and the documents a refresh publishes."""
    docs = {
        f"kp{i}": (f"Note {i}", f"Rice paddies and irrigation, observation number {i}.") for i in range(5)
    }
    lines = [json.dumps({"_id": i, "title": t, "text": x}) for i, (t, x) in docs.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_all(
    scenarios: list[Scenario], root: Path, embedders: Mapping[str, Any], only: str | None = None
) -> Report:
    """Every trial of every scenario (or of ``only``)."""
    report = Report()
    for scenario in scenarios:
        if only and scenario.command != only:
            continue
        for step in STEPS[scenario.command]:
            report.add(step, trial(scenario, step, root, embedders))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=sorted(STEPS), help="one command only")
    parser.add_argument("--root", type=Path, help="working folder (default: a temporary one, deleted)")
    options = parser.parse_args(argv)
    from workbench.comparison.run import compare
    from workbench.demo import build_demo
    from workbench.models.loading import load_embedder

    root = options.root or Path(tempfile.mkdtemp(prefix="killpoints-"))
    root.mkdir(parents=True, exist_ok=True)
    embedders = {CATALOG[a].column: load_embedder(CATALOG[a]) for a in (OLD_MODEL, NEW_MODEL)}
    base = root / "kp-base"
    shutil.rmtree(base, ignore_errors=True)
    build_demo(open_workspace(base))
    found = compare(
        open_workspace(base), baseline=OLD_MODEL, candidate=NEW_MODEL, eval_set="demo", embedders=embedders
    )
    scenarios = prepare(base, found.id, embedders, new_documents(root / "new.jsonl"))
    report = run_all(scenarios, root, embedders, options.only)
    print(f"kill points: {report.trials} trials, {len(report.failures)} failures")
    for failure in report.failures:
        print(f"  FAIL {failure}")
    if options.root is None:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
