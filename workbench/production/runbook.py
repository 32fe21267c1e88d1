"""The migration runbook: what this workspace's move to a candidate model takes, step by step.

One document a team can review, sign and follow: the pins (with their providers' sunset dates,
when a pin carries one), the cost and time estimate (:mod:`workbench.decide.plan`), the exact
commands in order (embed, index, compare, gate, shadow and canary roll-out, promote), the
rollback command and what it restores, the retirement date of the old column, the gate's verdict
with its evidence (segments included), the monitoring settings after the move, and who signed
off (the promotion record once there is one; blank lines to sign before).

Built from the workspace and a stored comparison; the estimate and the monitoring settings are
passed in (the CLI reads them), so this module measures nothing and writes nothing.

Example:
    >>> book = build_runbook(ws, "minilm-l6", comparison=cmp)  # doctest: +SKIP
    >>> print(book.markdown())  # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from workbench.comparison.segments import describe_segments
from workbench.errors import InvalidArgumentError
from workbench.production.history import PromotionRecord, history
from workbench.production.promote import gate_for_report
from workbench.store.production import production

if TYPE_CHECKING:
    from workbench.decide.plan import MigrationPlan
    from workbench.gate.config import GateConfig
    from workbench.gate.evaluate import GateResult
    from workbench.store.comparisons import Comparison
    from workbench.store.workspace import Workspace

__all__ = ["PROGRESSIVE_ROWS", "Runbook", "RunbookFormat", "RunbookStep", "build_runbook"]

RunbookFormat = Literal["md", "html"]
PROGRESSIVE_ROWS = 1_000_000
"""From this many rows on, the runbook embeds progressively (serving while it embeds)."""
_CANARY_STEPS = (5, 25, 50)


@dataclass(frozen=True)
class RunbookStep:
    """One step: what it is for, the exact command, and what to check before going on."""

    title: str
    command: str
    check: str = ""


@dataclass(frozen=True)
class Runbook:
    """A migration runbook; :meth:`markdown` and :meth:`html` render it."""

    table: str
    comparison_id: str
    created_at: str
    production_column: str | None
    production_version: int | None
    candidate_column: str
    pins: list[dict[str, Any]]
    estimate: str | None
    gate: GateResult | None
    evidence: list[str]
    steps: list[RunbookStep]
    rollback: RunbookStep
    retirement: RunbookStep
    retirement_date: date
    monitoring: dict[str, Any]
    signed: list[PromotionRecord] = field(default_factory=list)

    def markdown(self) -> str:
        """The runbook as Markdown (for a pull request or a wiki)."""
        return _render(self, _Markdown())

    def html(self) -> str:
        """The runbook as one self-contained HTML page."""
        return _render(self, _Html())

    def render(self, format: RunbookFormat = "md") -> str:
        """``md`` or ``html``.

        Raises:
            InvalidArgumentError: another format.
        """
        if format not in ("md", "html"):
            raise InvalidArgumentError(f"runbook format {format!r} is not one of md, html")
        return self.markdown() if format == "md" else self.html()


def build_runbook(
    ws: Workspace,
    candidate: str,
    *,
    comparison: Comparison,
    plan: MigrationPlan | None = None,
    monitoring: Mapping[str, Any] | None = None,
    retire_after: timedelta | None = None,
    gate: GateConfig | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Runbook:
    """The runbook for moving ``comparison``'s table to ``candidate``.

    Args:
        ws: The workspace.
        candidate: The candidate column or model alias; must be the comparison's candidate.
        comparison: A stored comparison of the candidate against production.
        plan: The cost and time estimate of embedding the table with the candidate
            (:func:`workbench.decide.plan.plan_embed`), or None to leave it out.
        monitoring: The monitoring settings in force after the move (``monitor.toml``).
        retire_after: The grace period before the old column is retired (default 7 days).
        gate: The gate's thresholds (default: the workspace's ``gate.toml``).
        clock: Returns the current UTC time (injected by tests).

    Raises:
        NotFoundError: the comparison's table or the candidate column does not exist.
        InvalidArgumentError: ``candidate`` is not the comparison's candidate.
    """
    m = comparison.manifest
    table = ws.table(m.table)
    column = ws.resolve_column(table, candidate).name
    if column != m.candidate_column:
        raise InvalidArgumentError(
            f"comparison {comparison.id} is about candidate {m.candidate_column}, not {column}; "
            f"run `workbench compare -b PRODUCTION -c {candidate}` and name that comparison"
        )
    now = (clock or (lambda: datetime.now(UTC)))()
    current = production(table)
    prod_column = current.column if current else None
    aliases = _aliases(ws)
    steps = _steps(ws, comparison, aliases, prod_column, table.count_rows())
    retire_after = timedelta(days=7) if retire_after is None else retire_after
    retirement_date = now.date() + retire_after
    old = prod_column or m.baseline_column
    return Runbook(
        table=m.table,
        comparison_id=comparison.id,
        created_at=now.isoformat(timespec="seconds"),
        production_column=prod_column,
        production_version=current.version if current else None,
        candidate_column=column,
        pins=_pins(ws, {old: "production", column: "candidate"}),
        estimate=plan.message if plan is not None else None,
        gate=gate_for_report(ws, comparison, gate=gate),
        evidence=[comparison.summary, *filter(None, [describe_segments(comparison)]), *m.warnings],
        steps=steps,
        rollback=_rollback_step(m.table, current.version if current else None, old),
        retirement=RunbookStep(
            f"Retire the old column on {retirement_date.isoformat()} (after {_days(retire_after)} days "
            "out of production; `workbench monitor` does it on schedule when retire_after is set)",
            f"workbench retire {old} -t {m.table} --grace {_days(retire_after)}d",
            "after this, rollback to the old column is no longer possible",
        ),
        retirement_date=retirement_date,
        monitoring=dict(monitoring or {}),
        signed=[r for r in history(ws, m.table) if r.action == "promote" and r.to_column == column],
    )


def _aliases(ws: Workspace) -> dict[str, str]:
    """Column → the alias a user names it by (the workspace's own pins before the catalog's)."""
    found: dict[str, str] = {}
    for alias, ref in {**ws.config.all_models(), **ws.config.models}.items():
        found[ref.column] = alias
    return found


def _pins(ws: Workspace, roles: dict[str, str]) -> list[dict[str, Any]]:
    """The workspace's own pins and the two involved, with their role and sunset date."""
    rows = []
    for alias, ref in sorted(ws.config.all_models().items()):
        if ref.column not in roles and alias not in ws.config.models:
            continue
        sunset = getattr(ref, "sunset", None)  # a pin may carry the provider's deprecation date
        rows.append(
            {
                "alias": alias,
                "pin": ref.pin,
                "column": ref.column,
                "role": roles.get(ref.column, ""),
                "sunset": str(sunset) if sunset else "none announced",
            }
        )
    return rows


def _steps(
    ws: Workspace, cmp: Comparison, aliases: dict[str, str], prod: str | None, rows: int
) -> list[RunbookStep]:
    m = cmp.manifest
    t = f"-t {m.table}"
    name = aliases.get(m.candidate_column, m.candidate_column)
    base = prod or m.baseline_column
    embed = f"workbench embed --model {name} {t}"
    if rows >= PROGRESSIVE_ROWS:
        embed += " --progressive"
    steps = [
        RunbookStep(
            "Embed the corpus with the candidate (resumable; "
            + ("progressive: big corpus" if rows >= PROGRESSIVE_ROWS else "`--progressive` for big corpora")
            + ")",
            embed,
            "`workbench status` shows the column complete, no stale rows",
        ),
        RunbookStep("Build the candidate's ANN index", f"workbench index {m.candidate_column} {t}"),
        RunbookStep(
            "Compare against production on the eval set",
            f"workbench compare -b {base} -c {m.candidate_column} -e {m.eval_set} {t}",
            f"this runbook rests on comparison {cmp.id}; a new one replaces it in the next commands",
        ),
        RunbookStep(
            "Ask the gate (dry run of promote)",
            f"workbench gate {m.candidate_column} -c {cmp.id} {t}",
            "GO (exit 0); NO-GO or INCONCLUSIVE stops here",
        ),
        RunbookStep(
            "Shadow traffic: serve production, also query the candidate on a 20% sample",
            f"workbench rollout shadow {m.candidate_column} --sample 0.2 {t}",
        ),
        RunbookStep(
            "Read the shadow report (overlap, score drift, latency)",
            f"workbench rollout report {m.candidate_column} {t}",
            "no alarm before the canary",
        ),
    ]
    for percent in _CANARY_STEPS:
        steps.append(
            RunbookStep(
                f"Canary: {percent}% of the traffic to the candidate",
                f"workbench rollout canary {m.candidate_column} --percent {percent} {t}",
                "`workbench rollout report` and `workbench monitor` clean before raising the share",
            )
        )
    steps.append(
        RunbookStep(
            "Promote (metadata and tags only, instant)",
            f"workbench promote {m.candidate_column} -c {cmp.id} {t}",
            "the history records who, when, the gate verdict and this comparison",
        )
    )
    steps.append(
        RunbookStep(
            "Monitor the new production (the first passes form its baseline)",
            "workbench monitor",
            "exit 0; an alarm (exit 1) → the rollback below",
        )
    )
    return steps


def _rollback_step(table: str, version: int | None, old: str) -> RunbookStep:
    where = f" (version {version})" if version is not None else ""
    return RunbookStep(
        f"Rollback: production goes back to {old}, today's production{where}: instant, no re-embedding",
        f"workbench rollback -t {table}",
        f"restores {old} as the served column until it is retired; the candidate's vectors stay",
    )


def _days(delta: timedelta) -> int:
    return max(0, round(delta.total_seconds() / 86400))


# --- rendering -----------------------------------------------------------------------------


class _Markdown:
    def heading(self, text: str, level: int = 2) -> str:
        return f"{'#' * level} {text}\n"

    def para(self, text: str) -> str:
        return f"{text}\n"

    def items(self, lines: list[str]) -> str:
        return "".join(f"- {line}\n" for line in lines)

    def step(self, number: int | None, step: RunbookStep) -> str:
        head = f"{number}. " if number is not None else ""
        check = f"   - check: {step.check}\n" if step.check else ""
        return f"{head}{step.title}\n\n   ```bash\n   {step.command}\n   ```\n{check}\n"

    def table(self, rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "(none)\n"
        keys = list(rows[0])
        lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(str(r[k]).replace("|", "\\|") for k in keys) + " |" for r in rows]
        return "\n".join(lines) + "\n"

    def page(self, title: str, body: str) -> str:
        return f"# {title}\n\n{body}"


class _Html:
    def heading(self, text: str, level: int = 2) -> str:
        return f"<h{level}>{html.escape(text)}</h{level}>\n"

    def para(self, text: str) -> str:
        return f"<p>{html.escape(text)}</p>\n"

    def items(self, lines: list[str]) -> str:
        return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>\n"

    def step(self, number: int | None, step: RunbookStep) -> str:
        head = f"{number}. " if number is not None else ""
        check = f"<br><small>check: {html.escape(step.check)}</small>" if step.check else ""
        code = f"<pre><code>{html.escape(step.command)}</code></pre>"
        return f"<p>{head}{html.escape(step.title)}</p>{code}{check}\n"

    def table(self, rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "<p>(none)</p>\n"
        head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows
        )
        return f"<table><tr>{head}</tr>{body}</table>\n"

    def page(self, title: str, body: str) -> str:
        style = (
            "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto}"
            "td,th{border:1px solid #ddd;padding:.2em .5em}"
        )
        name = html.escape(title)
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{name}</title>'
            f"<style>{style}</style></head><body>\n<h1>{name}</h1>\n{body}</body></html>\n"
        )


def _render(book: Runbook, out: _Markdown | _Html) -> str:
    prod = book.production_column or "none yet"
    parts = [
        out.para(
            f"Table {book.table}: production {prod}"
            + (f" (version {book.production_version})" if book.production_version is not None else "")
            + f" → candidate {book.candidate_column}, on the evidence of comparison {book.comparison_id}. "
            f"Written {book.created_at}."
        ),
        out.heading("Pins"),
        out.table(book.pins),
        out.heading("Cost and time estimate"),
        out.para(book.estimate or "not estimated (run `workbench plan --model ALIAS` for one)"),
        out.heading("Gate verdict and evidence"),
    ]
    if book.gate is not None:
        parts += [
            out.para(book.gate.summary),
            out.items([f"{c.outcome}: {c.detail}" for c in book.gate.checks]),
        ]
    else:
        parts.append(
            out.para("no gate verdict: the comparison's baseline is not the current production column")
        )
    parts += [out.items(book.evidence), out.heading("Commands, in order")]
    parts += [out.step(i, step) for i, step in enumerate(book.steps, start=1)]
    parts += [out.heading("Rollback"), out.step(None, book.rollback)]
    parts += [out.heading("Retirement"), out.step(None, book.retirement)]
    parts += [out.heading("Monitoring after the move")]
    settings = [f"{k}: {v}" for k, v in book.monitoring.items()] or ["the defaults of `workbench monitor`"]
    parts += [
        out.para("Run `workbench monitor` on a schedule (cron or CI), at least daily during the roll-out:"),
        out.items(settings),
        out.heading("Sign-off"),
    ]
    if book.signed:
        parts.append(out.items([f"{r.actor} at {r.at}: {r.message}" for r in book.signed]))
    else:
        blanks = ["Eval-set owner", "Service owner", "On-call engineer"]
        parts.append(out.items([f"{role}: ____________________  date: ____________" for role in blanks]))
    return out.page(f"Migration runbook: {book.table} → {book.candidate_column}", "\n".join(parts))
