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

This namespace is the public API, listed once in ``__init__.pyi``: the verbs (``compare``,
``embed``, ``promote``, ...) and the nouns (``ModelRef``, ``Comparison``, ...). Each name has one
address: a public name is used as ``workbench.NAME``; everything else from the module that defines
it (each module's ``__all__``; errors in :mod:`workbench.errors`). The subpackages, bottom to top:
``models``, ``metrics``, ``corpus``, ``store``, ``retrieval``, ``embedding``, ``comparison``,
``decide``, ``gate``, ``production``, ``monitoring``, ``cli``. Served models (OpenAI-compatible endpoints,
Ollama) are pinned by behaviour: ``pin_model`` records a canary set's vectors and every entry
point re-checks them (``verify_canaries``). Names load lazily on first use, so
``import workbench`` is cheap and never loads torch, LanceDB, a model or streamlit.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
