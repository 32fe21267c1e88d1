"""Presentation helpers shared by the pages: errors, progress, labels, arrows."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import streamlit as st

from workbench import WorkbenchError
from workbench.contract import VECTOR_COLUMN_IN_TEXT

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

    from workbench.store.workspace import VectorColumn


@contextmanager
def reported(what: str | None = None) -> Iterator[None]:
    """Show a library error as ``st.error`` (one clear message) instead of a traceback."""
    try:
        yield
    except WorkbenchError as exc:
        prefix = f"{what} failed — " if what else ""
        st.error(f"{prefix}{exc}", icon=":material/error:")


def require(condition: object, message: str) -> None:
    """End the page early with a hint when a prerequisite is missing."""
    if not condition:
        st.info(message, icon=":material/info:")
        st.stop()


class RateProgress:
    """A ``(done, total)`` callback drawing a progress bar with rows/s and an ETA.

    The rate counts only work done in this run, so a resumed run does not report the
    checkpointed rows as if they had just been computed.
    """

    def __init__(self, label: str, *, unit: str = "rows", lazy: bool = False) -> None:
        self.label = label
        self.unit = unit
        self._bar: DeltaGenerator | None = None if lazy else st.progress(0.0, text=f"{label}: starting…")
        self._start: float | None = None
        self._first = 0

    @property
    def bar(self) -> DeltaGenerator:
        if self._bar is None:
            self._bar = st.progress(0.0, text=f"{self.label}: starting…")
        return self._bar

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self._start is None:
            self._start, self._first = now, done
        elapsed = now - self._start
        rate = (done - self._first) / elapsed if elapsed > 0 else math.nan
        eta = (total - done) / rate if rate and rate > 0 and math.isfinite(rate) else math.nan
        parts = [f"{self.label}: {done:,} / {total:,} {self.unit}"]
        if math.isfinite(rate):
            parts.append(f"{rate:,.0f} {self.unit}/s")
        if math.isfinite(eta):
            parts.append(f"ETA {format_seconds(eta)}")
        self.bar.progress(min(done / total, 1.0) if total else 1.0, text=" · ".join(parts))

    def done(self, text: str) -> None:
        if self._bar is not None:
            self._bar.progress(1.0, text=text)


class SidesProgress:
    """Progress of a comparison in what the user counts: queries per model, not their sum.

    The library reports ``(done, total)`` over both sides (total = 2 × queries); this shows
    "baseline model: 57 / 57 queries · candidate model: 12 / 57 queries".
    """

    def __init__(self, label: str, *, n: int, sides: tuple[str, str] = ("baseline", "candidate")) -> None:
        self.label, self.n, self.sides = label, max(n, 1), sides
        self.bar = st.progress(0.0, text=f"{label}: starting…")

    def __call__(self, done: int, total: int) -> None:
        n = max(total // 2, 1) if total else self.n
        first, second = min(done, n), max(done - n, 0)
        text = (
            f"{self.label}: {self.sides[0]} model {first:,} / {n:,} queries · "
            f"{self.sides[1]} model {second:,} / {n:,} queries"
        )
        self.bar.progress(min(done / (2 * n), 1.0), text=text)


def format_seconds(seconds: float) -> str:
    if seconds < 1:
        return "<1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def model_short(name: str) -> str:
    """``sentence-transformers/all-MiniLM-L6-v2`` → ``all-MiniLM-L6-v2``."""
    return name.rstrip("/").split("/")[-1]


def column_label(column: VectorColumn, production: str | None = None) -> str:
    """A readable name for a vector column: model, fingerprint prefix, production mark."""
    mark = " · production" if column.name == production else ""
    return f"{model_short(column.ref.name)} ({column.ref.fingerprint[:8]}){mark}"


def column_pair(
    slots: tuple[DeltaGenerator, DeltaGenerator],
    columns: list[VectorColumn],
    production: str | None,
    *,
    keys: tuple[str, str],
    labels: tuple[str, str] = ("Baseline", "Candidate"),
) -> tuple[str, str]:
    """Baseline and candidate column pickers, one per slot; the baseline defaults to production.

    ``columns`` needs two entries at least (pages check that first, with a hint).
    """
    by_name = {c.name: c for c in columns}
    names = list(by_name)
    base = names.index(production) if production in names else 0
    defaults = (base, next(i for i in range(len(names)) if i != base))
    baseline, candidate = (
        slot.selectbox(
            label, names, index=index, key=key, format_func=lambda n: column_label(by_name[n], production)
        )
        for slot, label, index, key in zip(slots, labels, defaults, keys, strict=True)
    )
    return str(baseline), str(candidate)


def short_column(name: str | None, names: dict[str, str] | None = None) -> str:
    """A vector column's model name when known, else its slug (``vec__<slug>__<fp>``)."""
    if not name:
        return "—"
    if names and name in names:
        return names[name]
    parts = name.split("__")
    return parts[1] if len(parts) == 3 else name


def short_columns_in(text: str, names: dict[str, str] | None = None) -> str:
    """``production → vec__all_minilm_l6_v2__91f7d483`` → ``production → all-MiniLM-L6-v2``."""
    return VECTOR_COLUMN_IN_TEXT.sub(lambda match: short_column(match.group(0), names), text)


def short_tag(tag: str) -> str:
    """``candidate-vec__all_minilm_l6_v2__91f7d483`` → ``candidate: all_minilm_l6_v2``."""
    if tag.startswith("candidate-"):
        return f"candidate: {short_column(tag.removeprefix('candidate-'))}"
    return tag


def when(timestamp: object) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM UTC``."""
    text = str(timestamp).replace("T", " ")
    return text[:16] + (" UTC" if "+00:00" in text or text.endswith("Z") else "")


def _is_na(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def relevance_mark(grade: object) -> str:
    """``★`` per relevance grade; empty for unjudged and non-relevant documents."""
    if grade is None or _is_na(grade):
        return ""
    value = int(grade)  # type: ignore[call-overload]
    return "★" * value if value > 0 else ""
