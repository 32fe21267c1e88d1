"""The embedding run: a streamed, checkpointed, resumable computation of one vector column that
lands in the table whole, in one version.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
