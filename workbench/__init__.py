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

from workbench.comparison.judging import JudgementResult, add_judgements, rerun_comparison
from workbench.comparison.live import query_both
from workbench.comparison.report import export_run, write_report
from workbench.comparison.run import compare
from workbench.corpus.ingest import IngestResult, ingest
from workbench.demo import build_demo
from workbench.embedding.run import EmbedResult, PendingRun, embed, pending_run
from workbench.errors import WorkbenchError
from workbench.lifecycle.gate import GateConfig, GateResult
from workbench.lifecycle.history import PromotionRecord, history
from workbench.lifecycle.promote import check_gate, production_column, promote, refresh, rollback
from workbench.lifecycle.retire import retire
from workbench.lifecycle.serve import CheckReport, ProductionIndex, SearchResult, check, check_tables, search
from workbench.models.catalog import CATALOG
from workbench.models.ref import ModelRef, fingerprint_dir, load_embedder
from workbench.store.comparisons import Comparison, Manifest, list_comparisons, load_comparison
from workbench.store.evalsets import EvalSet, eval_set_versions, list_eval_sets, load_eval_set
from workbench.store.status import pinned_models, workspace_status
from workbench.store.workspace import Workspace, open_workspace

__all__ = [
    "CATALOG",
    "CheckReport",
    "Comparison",
    "EmbedResult",
    "EvalSet",
    "GateConfig",
    "GateResult",
    "IngestResult",
    "JudgementResult",
    "Manifest",
    "ModelRef",
    "PendingRun",
    "ProductionIndex",
    "PromotionRecord",
    "SearchResult",
    "WorkbenchError",
    "Workspace",
    "add_judgements",
    "build_demo",
    "check",
    "check_gate",
    "check_tables",
    "compare",
    "embed",
    "eval_set_versions",
    "export_run",
    "fingerprint_dir",
    "history",
    "ingest",
    "list_comparisons",
    "list_eval_sets",
    "load_comparison",
    "load_embedder",
    "load_eval_set",
    "open_workspace",
    "pending_run",
    "pinned_models",
    "production_column",
    "promote",
    "query_both",
    "refresh",
    "rerun_comparison",
    "retire",
    "rollback",
    "search",
    "workspace_status",
    "write_report",
]
