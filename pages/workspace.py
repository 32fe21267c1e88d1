"""``/workspace``: the Workspace page is the app's root (``app.py``); this address leads there.

Streamlit's automatic page list is hidden and the sidebar does not link here: the file only keeps
a ``/workspace`` link working, as it did when the app had a router.
"""

from __future__ import annotations

import streamlit as st

st.switch_page("app.py")
