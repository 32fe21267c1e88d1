"""The public API of the workbench, listed once: the verbs and nouns a user needs.

This stub is read by type checkers and by ``lazy_loader`` (``__init__.py``), which imports each
name's module on first use, so ``import workbench`` stays cheap. Everything else has one
address: the module that defines it (errors in :mod:`workbench.errors`).
"""

from .comparison.index_eval import index_recall
from .comparison.judging import add_judgements, rerun_comparison
from .comparison.live import query_both
from .comparison.report import write_report
from .comparison.run import compare
from .corpus.readers import read_collection
from .decide.adapters.artifact import Adapter, fit_adapter
from .decide.adapters.evaluate import evaluate_adapter
from .decide.leaderboard import Leaderboard, leaderboard
from .decide.matryoshka import MatryoshkaCurve, matryoshka_sweep
from .decide.plan import MigrationPlan, check_plan, plan_embed
from .demo import build_demo
from .embedding.ingest import IngestResult, ingest
from .embedding.ray_engine import RayOptions
from .embedding.result import EmbedResult
from .embedding.run import embed
from .errors import WorkbenchError
from .gate.calibration import calibrate_gate
from .gate.config import GateConfig
from .gate.evaluate import GateResult
from .gate.verdict import Verdict
from .models.catalog import CATALOG
from .models.embedder import Embedder
from .models.loading import load_embedder
from .models.pin_options import PinOptions
from .models.ref import ModelRef, ServingOptions
from .models.truncate import truncated_pin
from .monitoring.config import MonitorConfig
from .monitoring.monitor import monitor
from .production.history import PromotionRecord, history
from .production.promote import check_gate, promote, refresh, rollback
from .production.retire import retire
from .production.rollout import abort_rollout, start_canary, start_shadow
from .production.serving import CheckReport, ProductionIndex, SearchResult, check, search
from .production.shadow import shadow_report
from .store.comparisons import Comparison, list_comparisons, load_comparison
from .store.evalsets import EvalSet, list_eval_sets, load_eval_set, save_eval_set
from .store.index import IndexSpec, build_index
from .store.monitor_runs import MonitorRun
from .store.pins import pin_model, verify_model
from .store.status import table_status, workspace_status
from .store.storage import StorageConfig
from .store.workspace import Workspace, open_workspace

__all__ = [
    "CATALOG",
    "Adapter",
    "CheckReport",
    "Comparison",
    "EmbedResult",
    "Embedder",
    "EvalSet",
    "GateConfig",
    "GateResult",
    "IndexSpec",
    "IngestResult",
    "Leaderboard",
    "MatryoshkaCurve",
    "MigrationPlan",
    "ModelRef",
    "MonitorConfig",
    "MonitorRun",
    "PinOptions",
    "ProductionIndex",
    "PromotionRecord",
    "RayOptions",
    "SearchResult",
    "ServingOptions",
    "StorageConfig",
    "Verdict",
    "WorkbenchError",
    "Workspace",
    "abort_rollout",
    "add_judgements",
    "build_demo",
    "build_index",
    "calibrate_gate",
    "check",
    "check_gate",
    "check_plan",
    "compare",
    "embed",
    "evaluate_adapter",
    "fit_adapter",
    "history",
    "index_recall",
    "ingest",
    "leaderboard",
    "list_comparisons",
    "list_eval_sets",
    "load_comparison",
    "load_embedder",
    "load_eval_set",
    "matryoshka_sweep",
    "monitor",
    "open_workspace",
    "pin_model",
    "plan_embed",
    "promote",
    "query_both",
    "read_collection",
    "refresh",
    "rerun_comparison",
    "retire",
    "rollback",
    "save_eval_set",
    "search",
    "shadow_report",
    "start_canary",
    "start_shadow",
    "table_status",
    "truncated_pin",
    "verify_model",
    "workspace_status",
    "write_report",
]
