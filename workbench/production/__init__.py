"""Production and its moves: promote, rollback, refresh, retire, the audit history, recovery
of interrupted moves, serving from the production column, and live rollouts (shadow, canary).
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
