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
each module's ``__all__`` is its documented API. Served models (OpenAI-compatible endpoints,
Ollama) are pinned by behaviour: ``pin_model`` records a canary set's vectors and every entry
point re-checks them (``verify_canaries``). Names load lazily on first use, so
``import workbench`` is cheap and never loads torch, LanceDB, a model or streamlit.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.comparison.index_eval import index_recall
    from workbench.comparison.judging import JudgementResult, add_judgements, rerun_comparison
    from workbench.comparison.live import Agreement, agreement, query_both
    from workbench.comparison.report import export_run, write_report
    from workbench.comparison.run import compare
    from workbench.corpus.readers import Collection, Fields, read_collection
    from workbench.decide.adapters.artifact import Adapter, fit_adapter, list_adapters, load_adapter
    from workbench.decide.adapters.evaluate import AdapterEvaluation, evaluate_adapter
    from workbench.decide.leaderboard import Leaderboard, leaderboard
    from workbench.decide.matryoshka import MatryoshkaCurve, matryoshka_sweep
    from workbench.decide.plan import MigrationPlan, PlanCheck, check_plan, plan_embed
    from workbench.demo import build_demo, demo_ready
    from workbench.embedding.ingest import IngestResult, ingest, ingest_collection
    from workbench.embedding.ray_engine import RayOptions
    from workbench.embedding.run import EmbedResult, PendingRun, embed, pending_run
    from workbench.errors import (
        CanaryMismatchError,
        ConcurrentChangeError,
        ConfigError,
        CorruptStateError,
        DataError,
        DimensionMismatchError,
        FingerprintMismatchError,
        GateFailedError,
        InvalidArgumentError,
        LifecycleError,
        MissingDependencyError,
        MixedIndexError,
        ModelNotFoundError,
        NotFoundError,
        ServedModelError,
        StaleColumnError,
        StorageError,
        UnpinnedModelError,
        UnsafeWeightsError,
        WorkbenchError,
        WorkerLostError,
    )
    from workbench.gate.calibration import calibrate_gate
    from workbench.gate.evaluate import GateCheck, GateConfig, GateResult, Verdict
    from workbench.models.canary import CanaryPin, CanaryResult, verify_canaries
    from workbench.models.catalog import CATALOG
    from workbench.models.ref import (
        Embedder,
        ModelRef,
        ServingOptions,
        fingerprint_dir,
        load_embedder,
        pin_directory,
    )
    from workbench.models.truncate import truncated_pin
    from workbench.monitoring.config import MonitorConfig
    from workbench.monitoring.monitor import monitor
    from workbench.production.history import PromotionRecord, history
    from workbench.production.promote import check_gate, promote, refresh, rollback, rollback_target
    from workbench.production.retire import RetireResult, retire
    from workbench.production.serving import (
        CheckReport,
        ProductionIndex,
        SearchResult,
        check,
        check_tables,
        search,
    )
    from workbench.progress import ProgressFn, StepFn
    from workbench.store.comparisons import Comparison, Manifest, list_comparisons, load_comparison
    from workbench.store.evalsets import (
        EvalSet,
        eval_set_versions,
        list_eval_sets,
        load_eval_set,
        save_eval_set,
    )
    from workbench.store.index import IndexInfo, IndexSpec, build_index, describe_indexes, update_indexes
    from workbench.store.monitor_runs import MonitorRun, list_monitor_runs
    from workbench.store.pins import pin_model, verify_model
    from workbench.store.production import Production, RollbackTarget, production, production_column
    from workbench.store.query_log import QueryLog
    from workbench.store.status import (
        corpus_digest,
        pinned_models,
        table_status,
        version_timeline,
        workspace_status,
    )
    from workbench.store.storage import StorageConfig
    from workbench.store.workspace import VectorColumn, Workspace, open_workspace

_EXPORTS: dict[str, str] = {
    "CanaryMismatchError": "workbench.errors",
    "ConcurrentChangeError": "workbench.errors",
    "ConfigError": "workbench.errors",
    "CorruptStateError": "workbench.errors",
    "DataError": "workbench.errors",
    "DimensionMismatchError": "workbench.errors",
    "FingerprintMismatchError": "workbench.errors",
    "GateFailedError": "workbench.errors",
    "InvalidArgumentError": "workbench.errors",
    "LifecycleError": "workbench.errors",
    "MissingDependencyError": "workbench.errors",
    "MixedIndexError": "workbench.errors",
    "ModelNotFoundError": "workbench.errors",
    "NotFoundError": "workbench.errors",
    "ServedModelError": "workbench.errors",
    "StaleColumnError": "workbench.errors",
    "StorageError": "workbench.errors",
    "UnpinnedModelError": "workbench.errors",
    "UnsafeWeightsError": "workbench.errors",
    "WorkbenchError": "workbench.errors",
    "WorkerLostError": "workbench.errors",
    "ProgressFn": "workbench.progress",
    "StepFn": "workbench.progress",
    "Embedder": "workbench.models.ref",
    "ModelRef": "workbench.models.ref",
    "fingerprint_dir": "workbench.models.ref",
    "load_embedder": "workbench.models.ref",
    "pin_directory": "workbench.models.ref",
    "ServingOptions": "workbench.models.ref",
    "CanaryPin": "workbench.models.canary",
    "CanaryResult": "workbench.models.canary",
    "verify_canaries": "workbench.models.canary",
    "pin_model": "workbench.store.pins",
    "verify_model": "workbench.store.pins",
    "CATALOG": "workbench.models.catalog",
    "VectorColumn": "workbench.store.workspace",
    "Workspace": "workbench.store.workspace",
    "open_workspace": "workbench.store.workspace",
    "StorageConfig": "workbench.store.storage",
    "EvalSet": "workbench.store.evalsets",
    "list_eval_sets": "workbench.store.evalsets",
    "load_eval_set": "workbench.store.evalsets",
    "save_eval_set": "workbench.store.evalsets",
    "eval_set_versions": "workbench.store.evalsets",
    "Comparison": "workbench.store.comparisons",
    "Manifest": "workbench.store.comparisons",
    "list_comparisons": "workbench.store.comparisons",
    "load_comparison": "workbench.store.comparisons",
    "IndexInfo": "workbench.store.index",
    "IndexSpec": "workbench.store.index",
    "build_index": "workbench.store.index",
    "describe_indexes": "workbench.store.index",
    "update_indexes": "workbench.store.index",
    "corpus_digest": "workbench.store.status",
    "table_status": "workbench.store.status",
    "version_timeline": "workbench.store.status",
    "workspace_status": "workbench.store.status",
    "pinned_models": "workbench.store.status",
    "Collection": "workbench.corpus.readers",
    "Fields": "workbench.corpus.readers",
    "read_collection": "workbench.corpus.readers",
    "IngestResult": "workbench.embedding.ingest",
    "ingest": "workbench.embedding.ingest",
    "ingest_collection": "workbench.embedding.ingest",
    "EmbedResult": "workbench.embedding.run",
    "PendingRun": "workbench.embedding.run",
    "embed": "workbench.embedding.run",
    "pending_run": "workbench.embedding.run",
    "RayOptions": "workbench.embedding.ray_engine",
    "compare": "workbench.comparison.run",
    "index_recall": "workbench.comparison.index_eval",
    "Agreement": "workbench.comparison.live",
    "agreement": "workbench.comparison.live",
    "query_both": "workbench.comparison.live",
    "JudgementResult": "workbench.comparison.judging",
    "add_judgements": "workbench.comparison.judging",
    "rerun_comparison": "workbench.comparison.judging",
    "export_run": "workbench.comparison.report",
    "write_report": "workbench.comparison.report",
    "GateCheck": "workbench.gate.evaluate",
    "GateConfig": "workbench.gate.evaluate",
    "GateResult": "workbench.gate.evaluate",
    "Verdict": "workbench.gate.evaluate",
    "calibrate_gate": "workbench.gate.calibration",
    "PromotionRecord": "workbench.production.history",
    "history": "workbench.production.history",
    "Production": "workbench.store.production",
    "RollbackTarget": "workbench.store.production",
    "production": "workbench.store.production",
    "production_column": "workbench.store.production",
    "check_gate": "workbench.production.promote",
    "promote": "workbench.production.promote",
    "refresh": "workbench.production.promote",
    "rollback": "workbench.production.promote",
    "rollback_target": "workbench.production.promote",
    "MonitorConfig": "workbench.monitoring.config",
    "monitor": "workbench.monitoring.monitor",
    "MonitorRun": "workbench.store.monitor_runs",
    "list_monitor_runs": "workbench.store.monitor_runs",
    "QueryLog": "workbench.store.query_log",
    "RetireResult": "workbench.production.retire",
    "retire": "workbench.production.retire",
    "CheckReport": "workbench.production.serving",
    "ProductionIndex": "workbench.production.serving",
    "SearchResult": "workbench.production.serving",
    "check": "workbench.production.serving",
    "check_tables": "workbench.production.serving",
    "search": "workbench.production.serving",
    "Adapter": "workbench.decide.adapters.artifact",
    "fit_adapter": "workbench.decide.adapters.artifact",
    "list_adapters": "workbench.decide.adapters.artifact",
    "load_adapter": "workbench.decide.adapters.artifact",
    "AdapterEvaluation": "workbench.decide.adapters.evaluate",
    "evaluate_adapter": "workbench.decide.adapters.evaluate",
    "Leaderboard": "workbench.decide.leaderboard",
    "leaderboard": "workbench.decide.leaderboard",
    "MatryoshkaCurve": "workbench.decide.matryoshka",
    "matryoshka_sweep": "workbench.decide.matryoshka",
    "MigrationPlan": "workbench.decide.plan",
    "PlanCheck": "workbench.decide.plan",
    "check_plan": "workbench.decide.plan",
    "plan_embed": "workbench.decide.plan",
    "truncated_pin": "workbench.models.truncate",
    "build_demo": "workbench.demo",
    "demo_ready": "workbench.demo",
}

__all__ = [
    "CATALOG",
    "Adapter",
    "AdapterEvaluation",
    "Agreement",
    "CanaryMismatchError",
    "CanaryPin",
    "CanaryResult",
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
    "GateCheck",
    "GateConfig",
    "GateFailedError",
    "GateResult",
    "IndexInfo",
    "IndexSpec",
    "IngestResult",
    "InvalidArgumentError",
    "JudgementResult",
    "Leaderboard",
    "LifecycleError",
    "Manifest",
    "MatryoshkaCurve",
    "MigrationPlan",
    "MissingDependencyError",
    "MixedIndexError",
    "ModelNotFoundError",
    "ModelRef",
    "MonitorConfig",
    "MonitorRun",
    "NotFoundError",
    "PendingRun",
    "PlanCheck",
    "Production",
    "ProductionIndex",
    "ProgressFn",
    "PromotionRecord",
    "QueryLog",
    "RayOptions",
    "RetireResult",
    "RollbackTarget",
    "SearchResult",
    "ServedModelError",
    "ServingOptions",
    "StaleColumnError",
    "StepFn",
    "StorageConfig",
    "StorageError",
    "UnpinnedModelError",
    "UnsafeWeightsError",
    "VectorColumn",
    "Verdict",
    "WorkbenchError",
    "WorkerLostError",
    "Workspace",
    "add_judgements",
    "agreement",
    "build_demo",
    "build_index",
    "calibrate_gate",
    "check",
    "check_gate",
    "check_plan",
    "check_tables",
    "compare",
    "corpus_digest",
    "demo_ready",
    "describe_indexes",
    "embed",
    "eval_set_versions",
    "evaluate_adapter",
    "export_run",
    "fingerprint_dir",
    "fit_adapter",
    "history",
    "index_recall",
    "ingest",
    "ingest_collection",
    "leaderboard",
    "list_adapters",
    "list_comparisons",
    "list_eval_sets",
    "list_monitor_runs",
    "load_adapter",
    "load_comparison",
    "load_embedder",
    "load_eval_set",
    "matryoshka_sweep",
    "monitor",
    "open_workspace",
    "pending_run",
    "pin_directory",
    "pin_model",
    "pinned_models",
    "plan_embed",
    "production",
    "production_column",
    "promote",
    "query_both",
    "read_collection",
    "refresh",
    "rerun_comparison",
    "retire",
    "rollback",
    "rollback_target",
    "save_eval_set",
    "search",
    "table_status",
    "truncated_pin",
    "update_indexes",
    "verify_canaries",
    "verify_model",
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
