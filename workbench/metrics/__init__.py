"""Numbers about rankings: labelled metrics (pytrec_eval), paired statistics, rank shifts and
score distributions. Pure functions over frames; no storage.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
