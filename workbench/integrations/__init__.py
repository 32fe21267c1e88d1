"""Retrievers for LLM frameworks that always answer from production and follow it.

:mod:`workbench.integrations.langchain` and :mod:`workbench.integrations.llama_index` each give
a ``ProductionRetriever`` over the production column of one table: queries are encoded by the
column's own pinned model, and a promotion or rollback is followed without a restart (the
shared logic is :mod:`workbench.integrations.follower`). The frameworks are an optional extra:
``pip install "embedding-workbench[integrations]"``.
"""

from __future__ import annotations

__all__ = ["missing_extra"]

INSTALL_HINT = 'pip install "embedding-workbench[integrations]"'


def missing_extra(module: str, package: str) -> ImportError:
    """The one-line error for ``module`` when its framework ``package`` is not installed."""
    return ImportError(f"{module} needs {package}, which is not installed: {INSTALL_HINT}")
