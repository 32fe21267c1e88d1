"""The ``workbench`` command line: thin over the library (parse, call, print, exit code).

One module per command group (``data``, ``models``, ``compare``, ``lifecycle``), registered
explicitly on the typer app in ``app.py``; shared options, error handling and rendering in
``common.py``. ``--workspace`` (env ``WORKBENCH_WORKSPACE``) may stand before or after the
command. A ``WorkbenchError`` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

from workbench.cli.app import app, main

__all__ = ["app", "main"]
