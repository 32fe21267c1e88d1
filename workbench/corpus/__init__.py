"""Reading a corpus: BEIR folders, JSONL, CSV, Parquet and TREC qrels turned into validated Arrow
batches (streamed), and uploaded files turned into a folder the readers understand. Writing a
corpus into a workspace (ingest, with dual-write) is :mod:`workbench.embedding.ingest`.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
