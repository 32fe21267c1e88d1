"""The app's caches.

Connections and models are *resources* (one shared object per process); computed frames are
*data* keyed by ``(workspace uri, table name, table version)``, so a new table version — an
embedding run, an ingest, a promotion — is never served from a stale cache entry. The lists
read from the workbench's own record tables (comparisons, eval sets, promotion history, canary
checks) are keyed by those tables' versions: a rerun reads nothing, and a write — from the app
or the CLI — is seen on the next rerun.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from workbench import ModelRef, Workspace, load_embedder, open_workspace, query_both, table_status
from workbench.contract import (
    CANARY_CHECKS_TABLE,
    COMPARISONS_TABLE,
    EVAL_SET_VERSIONS_TABLE,
    EVAL_SETS_TABLE,
    PROMOTIONS_TABLE,
)
from workbench.models.sources.local import SentenceTransformerEmbedder
from workbench.production import history as promotions
from workbench.store import canaries, comparisons, evalsets
from workbench.store.records import record_version
from workbench.store.status import version_timeline

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from lancedb.table import Table

    from workbench import Comparison, PromotionRecord
    from workbench.comparison.progressive import CoverageCurve
    from workbench.production.transition import TransitionIndex
    from workbench.store.evalsets import EvalSetSummary
    from workbench.store.workspace import VectorColumn


@st.cache_resource(show_spinner=False)
def workspace(uri: str) -> Workspace:
    """One open workspace (LanceDB connection + config) per URI and process."""
    return open_workspace(uri)


@st.cache_resource(show_spinner="Loading and verifying the pinned model…")
def embedder(ref_json: str) -> SentenceTransformerEmbedder:
    """A verified model per exact pin (name, revision, fingerprint, options)."""
    return load_embedder(ModelRef.model_validate_json(ref_json))


def embedder_for(column: VectorColumn) -> SentenceTransformerEmbedder:
    """The cached model that wrote ``column``."""
    return embedder(column.ref.model_dump_json())


def table_at(uri: str, name: str, version: int) -> Table:
    """``name`` opened at exactly ``version`` (read-only when it is not the latest)."""
    table = workspace(uri).table(name)
    if table.version != version:
        table.checkout(version)
    return table


def latest_version(ws: Workspace, name: str) -> int:
    """The table's latest version: the cache key of everything computed from it."""
    return ws.table(name).version


def tags_key(uri: str, name: str) -> str:
    """Where the table's tags point, as a cache key: a rollback moves a tag without a new version."""
    tags = workspace(uri).table(name).tags.list()
    return ";".join(f"{tag}={info['version']}" for tag, info in sorted(tags.items()))


def status(uri: str, name: str, version: int) -> dict[str, Any]:
    """:func:`workbench.store.status.table_status` as plain data (cached per version and tag positions)."""
    return _status(uri, name, version, tags_key(uri, name))


def timeline(uri: str, name: str, version: int) -> pd.DataFrame:
    """:func:`workbench.store.status.version_timeline` as a frame, newest first (cached per version, tags)."""
    return _timeline(uri, name, version, tags_key(uri, name))


@st.cache_data(show_spinner=False, max_entries=64)
def _status(uri: str, name: str, version: int, tags: str) -> dict[str, Any]:
    """:func:`workbench.store.status.table_status` as plain data."""
    return asdict(table_status(table_at(uri, name, version)))


@st.cache_data(show_spinner=False, max_entries=64)
def _timeline(uri: str, name: str, version: int, tags: str) -> pd.DataFrame:
    """:func:`workbench.store.status.version_timeline` as a frame, newest first."""
    frame = pd.DataFrame(version_timeline(table_at(uri, name, version)))
    return frame.sort_values("version", ascending=False, ignore_index=True)


@st.cache_data(show_spinner=False, max_entries=512)
def live_query(
    uri: str, name: str, version: int, query: str, baseline: str, candidate: str, k: int
) -> pd.DataFrame:
    """:func:`workbench.comparison.live.query_both` with the cached models (one entry per table version)."""
    ws = workspace(uri)
    table = table_at(uri, name, version)
    columns = [ws.resolve_column(table, column) for column in (baseline, candidate)]
    embedders = {column.name: embedder_for(column) for column in columns}
    return query_both(ws, name, query, baseline=baseline, candidate=candidate, k=k, embedders=embedders)


@st.cache_resource(show_spinner=False, max_entries=8)
def transition_index(uri: str, name: str, version: int, new_column: str, merge: str) -> TransitionIndex:
    """A :class:`~workbench.production.transition.TransitionIndex` at one table version (models cached)."""
    from workbench.production.transition import TransitionIndex

    ws = workspace(uri)
    table = table_at(uri, name, version)
    models = {c.name: embedder_for(c) for c in ws.vector_columns(table)}
    return TransitionIndex.open(ws, name, new_column, merge=merge, version=version, embedders=models)


@st.cache_data(show_spinner=False, max_entries=16)
def coverage_curve(uri: str, name: str, version: int, new_column: str, eval_set: str) -> CoverageCurve:
    """:func:`~workbench.comparison.progressive.coverage_curve` at one table version."""
    from workbench.comparison.progressive import coverage_curve as measure

    return measure(workspace(uri), name, new_column, eval_set=eval_set)


@st.cache_data(show_spinner=False, max_entries=256)
def document_texts(uri: str, name: str, version: int, doc_ids: tuple[str, ...]) -> dict[str, str]:
    """:func:`workbench.retrieval.documents.document_texts` at one table version."""
    from workbench.retrieval.documents import document_texts as read

    return read(table_at(uri, name, version), doc_ids)


@st.cache_data(show_spinner=False, max_entries=32)
def comparison(uri: str, comparison_id: str) -> Comparison:
    """A stored comparison; immutable once stored, so its id is the whole cache key."""
    from workbench import load_comparison

    return load_comparison(workspace(uri), comparison_id)


@st.cache_data(show_spinner=False, max_entries=128)
def figure(uri: str, comparison_id: str, name: str) -> go.Figure:
    """One of :mod:`workbench.comparison.charts`' figures of a stored comparison."""
    from workbench.comparison import charts

    return getattr(charts, name)(comparison(uri, comparison_id))


def report(uri: str, comparison_id: str, fmt: str) -> str:
    """:func:`workbench.production.report.comparison_report`: the report ``workbench report`` writes.

    Cached per the comparison's table version and tag positions: the gate's verdict in it
    follows production (a promotion or a rollback changes it).
    """
    table = comparison(uri, comparison_id).manifest.table
    ws = workspace(uri)
    key = (latest_version(ws, table), tags_key(uri, table)) if ws.has_table(table) else None
    return _report(uri, comparison_id, fmt, key)


@st.cache_data(show_spinner=False, max_entries=64)
def _report(uri: str, comparison_id: str, fmt: str, table_key: tuple[int, str] | None) -> str:
    from workbench.production.report import comparison_report

    return comparison_report(workspace(uri), comparison(uri, comparison_id), format=fmt)  # type: ignore[arg-type]


def records_key(uri: str, *names: str) -> tuple[int, ...]:
    """The versions of record tables ``names``: the cache key of what is read from them."""
    ws = workspace(uri)
    return tuple(record_version(ws, name) for name in names)


def stored_comparisons(uri: str, table: str | None) -> pd.DataFrame:
    """The stored comparisons (of one corpus table), newest first; re-read only after a write."""
    every = _stored_comparisons(uri, records_key(uri, COMPARISONS_TABLE))
    return every if table is None else every[every["table"] == table].reset_index(drop=True)


def eval_sets(uri: str, table: str | None) -> list[EvalSetSummary]:
    """:func:`workbench.store.evalsets.list_eval_sets`, re-read only after an eval set changes."""
    return _eval_sets(uri, table, records_key(uri, EVAL_SETS_TABLE, EVAL_SET_VERSIONS_TABLE))


def history(uri: str, table: str | None) -> list[PromotionRecord]:
    """:func:`workbench.production.history.history`, re-read only after a lifecycle event."""
    return _history(uri, table, records_key(uri, PROMOTIONS_TABLE))


def canary_checks(uri: str) -> dict[str, dict[str, object]]:
    """:func:`workbench.store.canaries.last_checks`, re-read only after a new check."""
    return _canary_checks(uri, records_key(uri, CANARY_CHECKS_TABLE))


@st.cache_data(show_spinner=False, max_entries=64)
def _stored_comparisons(uri: str, versions: tuple[int, ...]) -> pd.DataFrame:
    frame = comparisons.list_comparisons(workspace(uri))
    return frame.iloc[::-1].reset_index(drop=True)


@st.cache_data(show_spinner=False, max_entries=64)
def _eval_sets(uri: str, table: str | None, versions: tuple[int, ...]) -> list[EvalSetSummary]:
    return evalsets.list_eval_sets(workspace(uri), table=table)


@st.cache_data(show_spinner=False, max_entries=64)
def _history(uri: str, table: str | None, versions: tuple[int, ...]) -> list[PromotionRecord]:
    return promotions.history(workspace(uri), table)


@st.cache_data(show_spinner=False, max_entries=64)
def _canary_checks(uri: str, versions: tuple[int, ...]) -> dict[str, dict[str, object]]:
    return canaries.last_checks(workspace(uri))
