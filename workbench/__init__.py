"""Embedding migration workbench: make an embedding-model upgrade a measured, reversible migration.

Pin each model exactly, store old and new vectors side by side in one LanceDB table, compare
them on labelled queries with significance, promote one by a LanceDB tag behind an evidence
gate, roll back instantly, and serve only from the verified production column.

Example:
    >>> import workbench as wb
    >>> ws = wb.open_workspace("workspace")  # doctest: +SKIP
    >>> wb.build_demo(ws)  # doctest: +SKIP
    >>> cmp = wb.compare(ws, baseline="minilm-l3", candidate="minilm-l6", eval_set="demo")  # doctest: +SKIP
    >>> print(cmp.summary)  # doctest: +SKIP

This namespace is the public API: the verbs (``compare``, ``embed``, ``promote``, ...) and the
nouns (``ModelRef``, ``Comparison``, ...). The subpackages (``models``, ``store``, ``corpus``,
``embedding``, ``metrics``, ``comparison``, ``lifecycle``, ``cli``) hold the implementation;
each module's ``__all__`` is its documented API. Names load lazily on first use, so
``import workbench`` is cheap and never loads torch, LanceDB, a model or streamlit.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.comparison.judging import JudgementResult, add_judgements, rerun_comparison
    from workbench.comparison.live import Agreement, agreement, query_both
    from workbench.comparison.report import export_run, write_report
    from workbench.comparison.run import compare
    from workbench.corpus.ingest import IngestResult, ingest, ingest_collection
    from workbench.corpus.readers import Collection, Fields, read_collection
    from workbench.demo import build_demo, demo_ready
    from workbench.embedding.run import EmbedResult, PendingRun, embed, pending_run
    from workbench.errors import (
        ConcurrentChangeError,
        ConfigError,
        CorruptStateError,
        DataError,
        DimensionMismatchError,
        FingerprintMismatchError,
        GateFailedError,
        InvalidArgumentError,
        LifecycleError,
        MixedIndexError,
        ModelNotFoundError,
        NotFoundError,
        StaleColumnError,
        UnpinnedModelError,
        UnsafeWeightsError,
        WorkbenchError,
    )
    from workbench.lifecycle.gate import GateConfig, GateResult
    from workbench.lifecycle.history import PromotionRecord, history
    from workbench.lifecycle.promote import (
        Production,
        check_gate,
        production,
        production_column,
        promote,
        refresh,
        rollback,
    )
    from workbench.lifecycle.retire import RetireResult, retire
    from workbench.lifecycle.serve import (
        CheckReport,
        ProductionIndex,
        SearchResult,
        check,
        check_tables,
        search,
    )
    from workbench.models.catalog import CATALOG
    from workbench.models.ref import Embedder, ModelRef, fingerprint_dir, load_embedder, pin_directory
    from workbench.progress import ProgressFn, StepFn
    from workbench.store.comparisons import Comparison, Manifest, list_comparisons, load_comparison
    from workbench.store.evalsets import (
        EvalSet,
        eval_set_versions,
        list_eval_sets,
        load_eval_set,
        save_eval_set,
    )
    from workbench.store.status import (
        corpus_digest,
        pinned_models,
        table_status,
        version_timeline,
        workspace_status,
    )
    from workbench.store.workspace import VectorColumn, Workspace, open_workspace

_EXPORTS: dict[str, str] = {
    "ConcurrentChangeError": "workbench.errors",
    "ConfigError": "workbench.errors",
    "CorruptStateError": "workbench.errors",
    "DataError": "workbench.errors",
    "DimensionMismatchError": "workbench.errors",
    "FingerprintMismatchError": "workbench.errors",
    "GateFailedError": "workbench.errors",
    "InvalidArgumentError": "workbench.errors",
    "LifecycleError": "workbench.errors",
    "MixedIndexError": "workbench.errors",
    "ModelNotFoundError": "workbench.errors",
    "NotFoundError": "workbench.errors",
    "StaleColumnError": "workbench.errors",
    "UnpinnedModelError": "workbench.errors",
    "UnsafeWeightsError": "workbench.errors",
    "WorkbenchError": "workbench.errors",
    "ProgressFn": "workbench.progress",
    "StepFn": "workbench.progress",
    "Embedder": "workbench.models.ref",
    "ModelRef": "workbench.models.ref",
    "fingerprint_dir": "workbench.models.ref",
    "load_embedder": "workbench.models.ref",
    "pin_directory": "workbench.models.ref",
    "CATALOG": "workbench.models.catalog",
    "VectorColumn": "workbench.store.workspace",
    "Workspace": "workbench.store.workspace",
    "open_workspace": "workbench.store.workspace",
    "EvalSet": "workbench.store.evalsets",
    "list_eval_sets": "workbench.store.evalsets",
    "load_eval_set": "workbench.store.evalsets",
    "save_eval_set": "workbench.store.evalsets",
    "eval_set_versions": "workbench.store.evalsets",
    "Comparison": "workbench.store.comparisons",
    "Manifest": "workbench.store.comparisons",
    "list_comparisons": "workbench.store.comparisons",
    "load_comparison": "workbench.store.comparisons",
    "corpus_digest": "workbench.store.status",
    "table_status": "workbench.store.status",
    "version_timeline": "workbench.store.status",
    "workspace_status": "workbench.store.status",
    "pinned_models": "workbench.store.status",
    "Collection": "workbench.corpus.readers",
    "Fields": "workbench.corpus.readers",
    "read_collection": "workbench.corpus.readers",
    "IngestResult": "workbench.corpus.ingest",
    "ingest": "workbench.corpus.ingest",
    "ingest_collection": "workbench.corpus.ingest",
    "EmbedResult": "workbench.embedding.run",
    "PendingRun": "workbench.embedding.run",
    "embed": "workbench.embedding.run",
    "pending_run": "workbench.embedding.run",
    "compare": "workbench.comparison.run",
    "Agreement": "workbench.comparison.live",
    "agreement": "workbench.comparison.live",
    "query_both": "workbench.comparison.live",
    "JudgementResult": "workbench.comparison.judging",
    "add_judgements": "workbench.comparison.judging",
    "rerun_comparison": "workbench.comparison.judging",
    "export_run": "workbench.comparison.report",
    "write_report": "workbench.comparison.report",
    "GateConfig": "workbench.lifecycle.gate",
    "GateResult": "workbench.lifecycle.gate",
    "PromotionRecord": "workbench.lifecycle.history",
    "history": "workbench.lifecycle.history",
    "Production": "workbench.lifecycle.promote",
    "check_gate": "workbench.lifecycle.promote",
    "production": "workbench.lifecycle.promote",
    "production_column": "workbench.lifecycle.promote",
    "promote": "workbench.lifecycle.promote",
    "refresh": "workbench.lifecycle.promote",
    "rollback": "workbench.lifecycle.promote",
    "RetireResult": "workbench.lifecycle.retire",
    "retire": "workbench.lifecycle.retire",
    "CheckReport": "workbench.lifecycle.serve",
    "ProductionIndex": "workbench.lifecycle.serve",
    "SearchResult": "workbench.lifecycle.serve",
    "check": "workbench.lifecycle.serve",
    "check_tables": "workbench.lifecycle.serve",
    "search": "workbench.lifecycle.serve",
    "build_demo": "workbench.demo",
    "demo_ready": "workbench.demo",
}

__all__ = [
    "CATALOG",
    "Agreement",
    "CheckReport",
    "Collection",
    "Comparison",
    "ConcurrentChangeError",
    "ConfigError",
    "CorruptStateError",
    "DataError",
    "DimensionMismatchError",
    "EmbedResult",
    "Embedder",
    "EvalSet",
    "Fields",
    "FingerprintMismatchError",
    "GateConfig",
    "GateFailedError",
    "GateResult",
    "IngestResult",
    "InvalidArgumentError",
    "JudgementResult",
    "LifecycleError",
    "Manifest",
    "MixedIndexError",
    "ModelNotFoundError",
    "ModelRef",
    "NotFoundError",
    "PendingRun",
    "Production",
    "ProductionIndex",
    "ProgressFn",
    "PromotionRecord",
    "RetireResult",
    "SearchResult",
    "StaleColumnError",
    "StepFn",
    "UnpinnedModelError",
    "UnsafeWeightsError",
    "VectorColumn",
    "WorkbenchError",
    "Workspace",
    "add_judgements",
    "agreement",
    "build_demo",
    "check",
    "check_gate",
    "check_tables",
    "compare",
    "corpus_digest",
    "demo_ready",
    "embed",
    "eval_set_versions",
    "export_run",
    "fingerprint_dir",
    "history",
    "ingest",
    "ingest_collection",
    "list_comparisons",
    "list_eval_sets",
    "load_comparison",
    "load_embedder",
    "load_eval_set",
    "open_workspace",
    "pending_run",
    "pin_directory",
    "pinned_models",
    "production",
    "production_column",
    "promote",
    "query_both",
    "read_collection",
    "refresh",
    "rerun_comparison",
    "retire",
    "rollback",
    "save_eval_set",
    "search",
    "table_status",
    "version_timeline",
    "workspace_status",
    "write_report",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


del TYPE_CHECKING, annotations  # keep the module namespace exactly the public API
