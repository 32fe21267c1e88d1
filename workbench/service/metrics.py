"""The service's Prometheus metrics: requests, latency per column, errors, swaps, canaries, shadow.

One :class:`ServiceMetrics` per application. With several uvicorn workers the values live in
prometheus-client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, set by
:func:`workbench.service.run.serve`) and ``/metrics`` aggregates every worker.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

__all__ = ["ServiceMetrics"]

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SHARE = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


class ServiceMetrics:
    """The metric families of one service process (see the module docstring)."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        own = None if self.multiprocess else self.registry
        self.requests = Counter(
            "workbench_requests", "HTTP requests answered", ["endpoint", "status"], registry=own
        )
        self.latency = Histogram(
            "workbench_search_seconds",
            "Time to answer a search, by the column that answered",
            ["column", "served_by"],
            buckets=_LATENCY,
            registry=own,
        )
        self.errors = Counter("workbench_errors", "Requests that failed, by kind", ["kind"], registry=own)
        self.swaps = Counter(
            "workbench_swaps", "Swaps of production or rollout, by result", ["kind", "result"], registry=own
        )
        self.canaries = Counter(
            "workbench_canary_checks",
            "Canary checks of a model before it serves, by result",
            ["result"],
            registry=own,
        )
        self.production_version = Gauge(
            "workbench_production_version",
            "Table version served as production",
            registry=own,
            multiprocess_mode="livemax",
        )
        self.swap_ready = Gauge(
            "workbench_swap_ready",
            "1 when the served production is where the tag points; 0 while a new one fails validation",
            registry=own,
            multiprocess_mode="livemin",
        )
        self.rollout_percent = Gauge(
            "workbench_rollout_percent",
            "Share of traffic the canary serves (0-100)",
            registry=own,
            multiprocess_mode="livemax",
        )
        self.shadow = Counter(
            "workbench_shadow_queries", "Shadow queries, by outcome", ["outcome"], registry=own
        )
        self.shadow_overlap = Histogram(
            "workbench_shadow_overlap",
            "Overlap@k of candidate and production in the shadow",
            buckets=_SHARE,
            registry=own,
        )
        self.shadow_rbo = Histogram(
            "workbench_shadow_rbo",
            "Rank-biased overlap of candidate and production in the shadow",
            buckets=_SHARE,
            registry=own,
        )

        self.transition_new_share = Histogram(
            "workbench_transition_new_share",
            "Share of an answer's results ranked by the new model (transition search)",
            buckets=_SHARE,
            registry=own,
        )

    def exposition(self) -> bytes:
        """The text exposition of every metric (of every worker in multiprocess mode)."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
