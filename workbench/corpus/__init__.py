"""Getting a corpus in: readers for BEIR, JSONL, CSV, Parquet and TREC qrels, and ingest (with
dual-write into existing vector columns).
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
