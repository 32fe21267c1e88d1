"""Pinned models: the reference (``ModelRef``) and the options that make one, file fingerprints,
the embedder protocol and loading, canary vectors, Matryoshka truncation, what served models
share, the catalog of models shipped inside PyPI packages, and the sources (``sources/``).
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
