"""Pinned models: the reference (``ModelRef``), file fingerprints, embedders and the catalog of
models shipped inside PyPI packages.
"""
