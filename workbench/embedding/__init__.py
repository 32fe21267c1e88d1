"""Writing vectors into a corpus table. The embedding run: a streamed, checkpointed, resumable
computation of one vector column that lands in the table whole, in one version, on the local
engine or fragment-parallel on Ray. Ingest: a corpus (with its queries and qrels) into a
workspace, new and changed rows dual-written into every existing vector column.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
