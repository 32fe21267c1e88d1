"""The embedding run: a streamed, checkpointed, resumable computation of one vector column that
lands in the table whole, in one version.
"""
