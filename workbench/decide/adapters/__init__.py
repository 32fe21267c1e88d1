"""Drift-Adapters: bridge a new model's queries into an old model's index, with measured
recovery.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
