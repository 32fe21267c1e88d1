"""The evidence gate: its configuration (``gate.toml``), per-check verdicts, the evaluation of a
comparison against the gate, and calibration of its thresholds on past comparisons.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
