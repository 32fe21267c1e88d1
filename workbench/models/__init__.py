"""Pinned models: the reference (``ModelRef``), file fingerprints, embedders and the catalog of
models shipped inside PyPI packages.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
