"""Where a model comes from: the OpenAI-compatible and Ollama servers, and ONNX graphs shipped
inside PyPI packages.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
