"""Searching one vector column with its own pinned model: query encoding through the column's
embedder, exact (streamed) scans, indexed search, and reading the documents a search returns.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
