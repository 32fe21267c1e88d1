"""Numbers about rankings: labelled metrics (pytrec_eval), paired statistics, rank shifts and
score distributions. Pure functions over frames; no storage.
"""
