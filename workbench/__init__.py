"""Embedding migration workbench."""
