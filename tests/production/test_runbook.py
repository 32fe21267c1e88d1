"""The migration runbook for a real comparison: the commands in order, rollback, retirement, sign-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.demo import NEW_MODEL, OLD_MODEL
from workbench.models.catalog import CATALOG
from workbench.production.promote import promote
from workbench.production.runbook import build_runbook
from workbench.store.comparisons import load_comparison
from workbench.store.workspace import Workspace

runner = CliRunner()
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_the_runbook_lists_the_commands_in_order_with_the_real_columns(
    compared_ws: Workspace, comparison_id: str
) -> None:
    cmp = load_comparison(compared_ws, comparison_id)
    old, new = CATALOG[OLD_MODEL].column, CATALOG[NEW_MODEL].column
    book = build_runbook(
        compared_ws, NEW_MODEL, comparison=cmp, retire_after=timedelta(days=14), clock=lambda: NOW
    )
    assert [s.command for s in book.steps] == [
        f"workbench embed --model {NEW_MODEL} -t demo",
        f"workbench index {new} -t demo",
        f"workbench compare -b {old} -c {new} -e demo -t demo",
        f"workbench gate {new} -c {comparison_id} -t demo",
        f"workbench rollout shadow {new} --sample 0.2 -t demo",
        f"workbench rollout report {new} -t demo",
        f"workbench rollout canary {new} --percent 5 -t demo",
        f"workbench rollout canary {new} --percent 25 -t demo",
        f"workbench rollout canary {new} --percent 50 -t demo",
        f"workbench promote {new} -c {comparison_id} -t demo",
        "workbench monitor",
    ]
    assert book.rollback.command == "workbench rollback -t demo"
    assert old in book.rollback.title and f"(version {book.production_version})" in book.rollback.title
    assert book.retirement_date.isoformat() == "2026-12-15"
    assert book.retirement.command == f"workbench retire {old} -t demo --grace 14d"
    assert book.gate is not None and book.gate.verdict == "GO"
    assert {p["role"] for p in book.pins} >= {"production", "candidate"}
    text = book.markdown()
    at = 0
    for command in [*(s.command for s in book.steps), book.rollback.command, book.retirement.command]:
        at = text.index(f"   {command}\n", at) + 1  # each command's own code line, in this order
    assert "Service owner: ____" in text and "none announced" in text
    assert "<h1>Migration runbook: demo → " in book.html()


def test_after_the_promotion_the_runbook_names_who_signed_off(
    compared_ws: Workspace, comparison_id: str
) -> None:
    promote(compared_ws, "demo", NEW_MODEL, comparison=comparison_id, actor="ann")
    cmp = load_comparison(compared_ws, comparison_id)
    book = build_runbook(compared_ws, NEW_MODEL, comparison=cmp, clock=lambda: NOW)
    assert [r.actor for r in book.signed] == ["ann"]
    assert "ann at " in book.markdown() and "____" not in book.markdown()


def test_cli_writes_the_runbook_and_refuses_bad_input(
    compared_ws: Workspace, comparison_id: str, tmp_path: Path
) -> None:
    out = tmp_path / "rb.md"
    args = ["runbook", NEW_MODEL, "-c", comparison_id, "--no-estimate", "-w", compared_ws.uri]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"workbench promote {CATALOG[NEW_MODEL].column} -c {comparison_id}" in out.read_text(
        encoding="utf-8"
    )
    bad = tmp_path / "bad.pdf"
    refused = runner.invoke(app, [*args, "--format", "pdf", "--out", str(bad)])
    assert refused.exit_code == 2 and "--format 'pdf' is not one of md, html" in refused.output
    wrong = runner.invoke(
        app, ["runbook", OLD_MODEL, "-c", comparison_id, "--no-estimate", "-w", compared_ws.uri]
    )
    assert wrong.exit_code == 2 and "is about candidate" in wrong.output
    assert not bad.exists() and not Path(f"runbook-{comparison_id}.md").exists()
