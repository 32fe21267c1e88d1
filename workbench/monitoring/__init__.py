"""Watching production over time: monitor passes, their signals (eval metrics, canaries, score
drift), drift judgement against a baseline window, and scheduled maintenance (retirement).
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
