"""Searching one vector column with its own pinned model: query encoding through the column's
embedder (``encode``), exact search (``exact``: a streamed scan, LanceDB's flat search, a numpy
reference), batched retrieval for evaluation (``search``), and reading the documents a search
returns (``documents``). Search through a column's ANN index is :mod:`workbench.store.index`.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
