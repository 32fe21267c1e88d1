"""Choosing a model before migrating: the leaderboard of N candidates, the Matryoshka
dimension sweep, the cost and time plan of an embedding run, and Drift-Adapters (``adapters/``).
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
