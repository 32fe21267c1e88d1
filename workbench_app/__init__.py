"""Streamlit-side helpers of the workbench app: cached resources, context and UI pieces.

The library (``workbench/``) never imports streamlit; everything streamlit-specific that more
than one page needs lives here, starting with :mod:`workbench_app.shell`, which every page calls
first (page config, the sidebar with its grouped page links, the demo on first start).
"""
