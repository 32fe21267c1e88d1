"""The workspace and what it stores: the LanceDB connection and ``workbench.toml``, the storage
contract (column names, metadata keys, tags, schemas), and the record tables (eval sets,
comparisons).
"""
