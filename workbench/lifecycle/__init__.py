"""Production and its moves: the evidence gate, promote, rollback, refresh, retire, the audit
history and serving from the production column.
"""
