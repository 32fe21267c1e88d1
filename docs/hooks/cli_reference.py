"""MkDocs hook: the CLI reference, generated from the typer app at build time.

``docs/reference/cli.md`` holds the marker ``<!-- cli-reference -->``; this hook replaces it
with the Markdown that typer's own generator (``typer <module> utils docs``) writes for
``workbench.cli.app:app``, produced in-process from the app's click command, so the page always
matches the code and the build needs no network and no ``typer`` on ``PATH``.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- cli-reference -->"
PAGE = "reference/cli.md"


def cli_markdown(*, indent: int = 1) -> str:
    """Typer's Markdown for the ``workbench`` command and every subcommand, headings from ``indent``+1."""
    import typer
    import typer.main
    from typer.cli import get_docs_for_click
    from typer.core import MARKUP_MODE_KEY

    from workbench.cli.app import app

    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="workbench")
    ctx.ensure_object(dict)
    ctx.obj[MARKUP_MODE_KEY] = getattr(app, "rich_markup_mode", None)
    return get_docs_for_click(obj=command, ctx=ctx, indent=indent, name="workbench").strip() + "\n"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Replace the marker on the CLI reference page; leave every other page as it is."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE} lost its {MARKER!r} marker: the CLI reference would be empty")
    return markdown.replace(MARKER, cli_markdown())
