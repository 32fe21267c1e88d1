"""The workspace and what it stores: the LanceDB connection and ``workbench.toml``, the storage
contract (column names, metadata keys, tags, schemas), and the record tables (eval sets,
comparisons).
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
