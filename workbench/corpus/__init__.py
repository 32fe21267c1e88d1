"""Getting a corpus in: readers for BEIR, JSONL, CSV, Parquet and TREC qrels, and ingest (with
dual-write into existing vector columns).
"""
