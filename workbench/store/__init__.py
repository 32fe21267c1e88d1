"""The workspace and what it stores: the LanceDB connection, ``workbench.toml`` and object
storage, pins and their canaries, ANN indexes, status and time travel, what production is, and
the record tables (eval sets, comparisons, monitor passes, the query log), and the writer locks
(one production move per table, one embedding run per column). Every name and schema
written here comes from the storage contract, :mod:`workbench.contract`.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
