"""Streamlit-side helpers of the workbench app: cached resources, context and UI pieces.

The library (``workbench/``) never imports streamlit; everything streamlit-specific that more
than one page needs lives here.
"""
