"""Comparing vector columns: retrieval (exact), the comparison run, live side-by-side queries,
reports and charts.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
