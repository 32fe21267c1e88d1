"""Which embedding models were trained to be truncated (Matryoshka representation learning).

A Matryoshka-trained model keeps most of its quality when its vectors are cut to their first
``d`` values; any other model (MiniLM, the original E5s) loses it fast. Nothing in a model's
files says which it is, so this is a list of known families by name, checked case-insensitively
against the pinned model's name. A truncated pin (``truncate_dim``) counts as Matryoshka: its
owner chose to truncate it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.models.ref import ModelRef

__all__ = ["MATRYOSHKA_FAMILIES", "matryoshka_trained"]

MATRYOSHKA_FAMILIES = (
    "text-embedding-3",
    "nomic-embed-text-v1.5",
    "nomic-embed-text-v2",
    "mxbai-embed",
    "snowflake-arctic-embed-m-v1.5",
    "snowflake-arctic-embed-l-v2",
    "jina-embeddings-v3",
    "jina-embeddings-v4",
    "gte-modernbert",
    "modernbert-embed",
    "qwen3-embedding",
    "embeddinggemma",
    "stella_en",
    "matryoshka",
)
"""Name fragments of model families trained with a Matryoshka loss."""


def matryoshka_trained(ref: ModelRef) -> bool:
    """True when ``ref`` is a known Matryoshka-trained family or a truncated pin."""
    if ref.truncate_dim is not None:
        return True
    name = f"{ref.name} {ref.served_model or ''}".lower()
    return any(family in name for family in MATRYOSHKA_FAMILIES)
