"""``python -m workbench.cli``: the same as the ``workbench`` command."""

from __future__ import annotations

from workbench.cli.app import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
