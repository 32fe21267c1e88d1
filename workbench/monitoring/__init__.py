"""Watching production over time: monitor passes, their signals (eval metrics, canaries, score
drift), drift judgement against a baseline window, scheduled maintenance (retire old columns,
compact, prune versions), and the view of every signal over time.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
