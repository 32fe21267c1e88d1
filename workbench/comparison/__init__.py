"""Comparing vector columns: retrieval (exact), the comparison run, live side-by-side queries,
reports and charts.
"""
