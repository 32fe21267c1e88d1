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

The verbs shadow the submodules of the same name (``workbench.compare`` is the function; use
``importlib.import_module("workbench.comparison.run")`` for the module). Importing never loads torch,
a model or streamlit: models load on first use.
"""

from __future__ import annotations

from workbench.adapters.artifact import Adapter, fit_adapter, list_adapters, load_adapter
from workbench.adapters.evaluate import AdapterEvaluation, evaluate_adapter
from workbench.adapters.serve import AdaptedIndex
from workbench.comparison.leaderboard import Leaderboard, leaderboard
from workbench.comparison.live import query_both
from workbench.comparison.matryoshka import MatryoshkaCurve, matryoshka_sweep
from workbench.comparison.report import export_run, write_report
from workbench.comparison.run import compare
from workbench.corpus.ingest import IngestResult, ingest
from workbench.demo import build_demo
from workbench.embedding.plan import MigrationPlan, PlanCheck, check_plan, plan_embed
from workbench.embedding.run import EmbedResult, PendingRun, embed, pending_run
from workbench.errors import WorkbenchError
from workbench.lifecycle.gate import GateConfig, GateResult
from workbench.lifecycle.history import PromotionRecord, history
from workbench.lifecycle.promote import check_gate, production_column, promote, refresh, rollback
from workbench.lifecycle.retire import retire
from workbench.lifecycle.serve import CheckReport, ProductionIndex, SearchResult, check, search
from workbench.models.catalog import CATALOG
from workbench.models.ref import ModelRef, fingerprint_dir, load_embedder
from workbench.models.truncate import truncated_pin
from workbench.store.comparisons import Comparison, Manifest, list_comparisons, load_comparison
from workbench.store.evalsets import EvalSet, list_eval_sets, load_eval_set
from workbench.store.status import workspace_status
from workbench.store.workspace import Workspace, open_workspace

__all__ = [
    "CATALOG",
    "AdaptedIndex",
    "Adapter",
    "AdapterEvaluation",
    "CheckReport",
    "Comparison",
    "EmbedResult",
    "EvalSet",
    "GateConfig",
    "GateResult",
    "IngestResult",
    "Leaderboard",
    "Manifest",
    "MatryoshkaCurve",
    "MigrationPlan",
    "ModelRef",
    "PendingRun",
    "PlanCheck",
    "ProductionIndex",
    "PromotionRecord",
    "SearchResult",
    "WorkbenchError",
    "Workspace",
    "build_demo",
    "check",
    "check_gate",
    "check_plan",
    "compare",
    "embed",
    "evaluate_adapter",
    "export_run",
    "fingerprint_dir",
    "fit_adapter",
    "history",
    "ingest",
    "leaderboard",
    "list_adapters",
    "list_comparisons",
    "list_eval_sets",
    "load_adapter",
    "load_comparison",
    "load_embedder",
    "load_eval_set",
    "matryoshka_sweep",
    "open_workspace",
    "pending_run",
    "plan_embed",
    "production_column",
    "promote",
    "query_both",
    "refresh",
    "retire",
    "rollback",
    "search",
    "truncated_pin",
    "workspace_status",
    "write_report",
]
