"""Production and its moves: the evidence gate, promote, rollback, refresh, retire, the audit
history and serving from the production column.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
