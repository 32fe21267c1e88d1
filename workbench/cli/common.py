"""Shared pieces of the CLI: options, error handling, progress bars, JSON output."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.contract import DEFAULT_WORKSPACE
from workbench.progress import ProgressFn
from workbench.store.failures import explain

if TYPE_CHECKING:
    from workbench import Workspace

__all__ = [
    "DEFAULT",
    "PLAIN_EVERY",
    "ConfigOpt",
    "GlobalConfigOpt",
    "GlobalWorkspaceOpt",
    "JsonOpt",
    "PlainProgress",
    "TableOpt",
    "WorkspaceOpt",
    "echo",
    "emit_json",
    "handled",
    "lean_memory",
    "progress_bar",
    "set_defaults",
    "table_name",
    "terminal_text",
    "workspace",
]

WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace: a folder or any LanceDB URI (default: as given before the command, "
        f"else $WORKBENCH_WORKSPACE, else ./{DEFAULT_WORKSPACE}).",
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", help="Config TOML (default: <workspace>/workbench.toml or $WORKBENCH_CONFIG)."),
]
GlobalWorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="WORKBENCH_WORKSPACE",
        help=f"Workspace: a folder or any LanceDB URI (default: ./{DEFAULT_WORKSPACE}).",
    ),
]
GlobalConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config", envvar="WORKBENCH_CONFIG", help="Config TOML (default: <workspace>/workbench.toml)."
    ),
]
TableOpt = Annotated[
    str | None,
    typer.Option(
        "--table",
        "-t",
        help="Corpus table (default: the only one, else default_table in workbench.toml, else the "
        "only one with the named column).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]

DEFAULT: str | None = None
"""The default of every command's ``--workspace``: resolved by :func:`workspace`."""


@dataclass
class _Defaults:
    workspace: str | None = None
    config: str | None = None


_defaults = _Defaults()


def set_defaults(*, workspace: str | None, config: str | None) -> None:
    """Record the options given before the command (or by environment) for this invocation."""
    _defaults.workspace = workspace
    _defaults.config = config


_CREATED: list[Path] = []  # workspace folders this command created; removed if it fails


@contextmanager
def handled() -> Iterator[None]:
    """Turn every expected failure into one line on stderr and exit code 2, writing nothing.

    A ``WorkbenchError`` is printed as it is; a storage or system error (a commit conflict, a
    read-only or full disk, damaged files, ...) is first named by
    :func:`workbench.store.failures.explain`. A workspace folder this command created is
    removed again. Anything else is a bug and keeps its traceback.
    """
    mark = len(_CREATED)
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        error = explain(exc)
        if error is None:
            raise
        _remove_created(mark)
        message = " ".join(str(error).split())
        echo(f"error: {message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    finally:
        del _CREATED[mark:]


def _remove_created(mark: int) -> None:
    """Remove the workspace folders created since ``mark`` (by the command that just failed)."""
    for folder in _CREATED[mark:]:
        shutil.rmtree(folder, ignore_errors=True)


def workspace(uri: str | None, config: str | None, *, create: bool = False) -> Workspace:
    """Open the workspace: the command's option, else the global one, else the default folder.

    Only commands that may start a new workspace (``create``: ingest, demo, models) make its
    folder; if such a command then fails, the folder it made is removed again.
    """
    from workbench import open_workspace

    target = uri or _defaults.workspace or DEFAULT_WORKSPACE
    if create and "://" not in target and not Path(target).exists():
        _CREATED.append(Path(target).resolve())
    return open_workspace(target, config_path=config or _defaults.config, create=create)


def table_name(ws: Workspace, table: str | None, *, column: str | None = None) -> str:
    """``--table``, else the table the workspace means (:meth:`Workspace.pick_table`).

    When several tables exist and one was picked (the configured ``default_table``, or the only
    one with ``column``), one line on stderr says which and why.
    """
    if table is not None:
        return table
    name, why = ws.pick_table(column=column)
    if why:
        echo(f"table {name!r} ({why}; --table NAME to choose)", err=True)
    return name


@contextmanager
def progress_bar(
    description: str, *, unit: str = "rows", scale: bool = False, usage_of: Any = None
) -> Iterator[ProgressFn]:
    """A tqdm bar (rows/s, ETA) on stderr, as a ``ProgressFn``; plain lines when stderr is no terminal.

    With ``scale``, counts are shown as k/M (bytes in KiB/MiB with ``unit="B"``). With
    ``usage_of`` (a served embedder), the bar also shows tokens and cost so far. Redirected to a
    file or a pipe (a log, CI, ``2>&1 | tail``), a bar's carriage-return redraws would pile up on
    one line, so :class:`PlainProgress` writes a whole line every quarter of the work or
    :data:`PLAIN_EVERY` seconds instead.
    """
    if not _is_terminal(sys.stderr):
        plain = PlainProgress(terminal_text(description), unit=unit, scale=scale, usage_of=usage_of)
        try:
            yield plain.update
        finally:
            plain.close()
        return
    from tqdm import tqdm

    bars: list[tqdm] = []  # created on the first update, so a step with no work prints nothing

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(
                tqdm(
                    desc=terminal_text(description),
                    unit=unit,
                    unit_scale=scale,
                    unit_divisor=1024 if unit == "B" else 1000,
                    total=total,
                    file=sys.stderr,
                    dynamic_ncols=True,
                )
            )
        bar = bars[0]
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)
        usage = getattr(usage_of, "usage", None)
        if usage is not None:
            postfix: dict[str, object] = {"tokens": usage.tokens}
            if usage.cost is not None:
                postfix["cost"] = f"{usage.cost:.4f}"
            bar.set_postfix(postfix, refresh=False)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


PLAIN_EVERY = 10.0
"""Seconds between two progress lines when stderr is not a terminal (also at every quarter)."""


class PlainProgress:
    """Progress as whole lines (``embedding with minilm-l6: 216/432 rows (50%), 21.4 rows/s``).

    A line at the first update, at each quarter of the total, at most every :data:`PLAIN_EVERY`
    seconds in between, and at the end; nothing when there was no work.
    """

    def __init__(
        self, description: str, *, unit: str = "rows", scale: bool = False, usage_of: Any = None
    ) -> None:
        import time

        self._clock = time.monotonic
        self.description, self.unit, self.scale, self.usage_of = description, unit, scale, usage_of
        self._start = self._last = self._clock()
        self._done, self._total, self._quarter = 0, 0, -1

    def update(self, done: int, total: int) -> None:
        self._done, self._total = done, total
        now = self._clock()
        quarter = 4 * done // total if total > 0 else 0
        if quarter > self._quarter or now - self._last >= PLAIN_EVERY:
            self._quarter, self._last = max(quarter, self._quarter), now
            if done < total:
                self._line(now)

    def close(self) -> None:
        if self._total > 0 or self._done > 0:
            self._line(self._clock())

    def _line(self, now: float) -> None:
        elapsed = now - self._start
        share = f" ({self._done / self._total:.0%})" if self._total > 0 else ""
        rate = f", {self._amount(self._done / elapsed)}/s" if elapsed > 0 and self._done else ""
        usage = getattr(self.usage_of, "usage", None)
        if usage is not None:
            rate += f", {usage.tokens} tokens" + ("" if usage.cost is None else f", cost {usage.cost:.4f}")
        typer.echo(f"{self.description}: {self._counts()}{share}{rate}", err=True)

    def _counts(self) -> str:
        """``216/432 rows``; with ``scale``, k/M (1024-based for bytes) as the bar shows them."""
        if not self.scale:
            return f"{self._done}/{self._total} {self.unit}"
        return f"{self._amount(self._done)}/{self._amount(self._total)}"

    def _amount(self, value: float) -> str:
        if not self.scale:
            return f"{value:.1f} {self.unit}"
        from tqdm import tqdm

        return tqdm.format_sizeof(value, self.unit, 1024 if self.unit == "B" else 1000)


_ESCAPES = re.compile(
    r"""
      \x1b\][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?   # OSC: a title, an OSC-8 hyperlink's target
    | \x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?        # DCS, SOS, PM, APC strings
    | \x1b\[[0-?]*[\x20-/]*[@-~]?                   # CSI: colours, cursor moves, erasing
    | \x1b[\x20-/]*[0-~]?                            # any other escape sequence
    | \x9d[^\x07\x9c\n]*(?:\x07|\x9c)?                 # OSC and CSI in their 8-bit forms
    | \x9b[0-?]*[\x20-/]*[@-~]?
    | [\x00-\x08\x0b-\x1f\x7f-\x9f]                  # other C0 and C1 controls (tab, newline kept)
    """,
    re.VERBOSE,
)


def terminal_text(value: object) -> str:
    """``value`` as text that is safe to print: escape sequences and control characters removed.

    Data the CLI prints (titles, texts, reasons, names, labels) can come from anyone's corpus or
    config; an ANSI or OSC-8 sequence in it could recolour, rewrite or hyperlink the user's
    terminal. The visible text is kept (an OSC-8 link keeps its label, loses its target); tab and
    newline are kept, a carriage return (which could overwrite a line) is not.
    """
    return _ESCAPES.sub("", str(value))


def echo(message: object = "", *, err: bool = False, fg: str | None = None) -> None:
    """Print one message through :func:`terminal_text` (every CLI printer goes through here).

    ``fg`` colours it (our own escape, added after the cleaning; dropped when not a terminal).
    """
    text = terminal_text(message)
    if fg is None:
        typer.echo(text, err=err)
    else:
        typer.secho(text, fg=fg, err=err)


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON; control characters are escaped (C1 ones too, which JSON allows raw)."""
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    typer.echo(_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


_C1 = re.compile(r"[\x7f-\x9f]")


def lean_memory() -> bool:
    """Ask glibc for one malloc arena and to return freed memory at once (this process only).

    Lance's writer threads each grow their own arena, so the peak RSS of a streamed ingest
    creeps up with corpus size (+22 % from 100k to 1M rows) although no corpus is held;
    with one arena and no trim threshold it stays flat (+9 %, see ``bench/bench_ingest.py``).
    A comparison's peak falls from 1.97 to 1.41 GB at 100k rows and from 2.46 to 2.04 GB at 1M
    (``bench/bench_scale.py --ops compare`` with ``MALLOC_ARENA_MAX=1 MALLOC_TRIM_THRESHOLD_=0``).
    A CLI process is short-lived and ours to tune; the library never calls this. Returns
    False where it does not apply (not glibc).

    The switch is one-way and only binds threads that have no arena yet: glibc fixes its arena
    limit the first time it needs it, and a thread keeps the arena it has. That is why
    ``compare`` calls it just before its first scan (``before_scan``), after the queries are
    encoded: torch's worker threads keep their own arenas, where one shared arena made
    encoding 1.26-1.38x slower with 5x the system time (issue 26). Calling it again is harmless.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_arena_max = -1, -8
        return bool(libc.mallopt(m_arena_max, 1)) and bool(libc.mallopt(m_trim_threshold, 0))
    except (OSError, AttributeError):
        return False
