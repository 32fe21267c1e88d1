"""The ``workbench`` command line: thin over the library (parse, call, print, exit code).

One module per concern, each registering its commands on the typer app in ``app.py`` (the
console entry point is ``workbench.cli.app:main``): ``data`` (demo, ingest, embed, status), ``models``,
``index``, ``compare``, ``judge``, ``decide``, ``gate``, ``production`` (promote, rollback,
refresh, retire, search, check, history), ``monitor`` and ``serve_app``; shared options, error
handling and rendering in ``common.py``. ``--workspace`` (env ``WORKBENCH_WORKSPACE``) may stand
before or after the command. A ``WorkbenchError`` becomes one line on stderr and exit code 2.
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
