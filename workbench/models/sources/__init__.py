"""Where a model comes from: a local directory, a PyPI package (ONNX graphs converted once), a
hub snapshot, an OpenAI-compatible server, an Ollama server.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
