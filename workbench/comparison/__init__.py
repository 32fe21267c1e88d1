"""Comparing two vector columns: the comparison run on an eval set, index recall as evidence,
judging what the new model surfaces, live side-by-side queries, the mixed-index demonstration,
and how a comparison is shown (reports, charts, top-k views). Searching a column is
:mod:`workbench.retrieval`; storing a comparison is :mod:`workbench.store.comparisons`.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
