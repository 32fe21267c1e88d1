"""``workbench judge``: export a comparison's unjudged pool to label elsewhere, import the labels.

workbench judge export CMP_ID -o pool.qrels      # lines "qid 0 docid -1"
(replace each -1 with a grade: 0 not relevant, 1 relevant, 2 highly relevant)
workbench judge import pool.qrels --eval-set demo --author alice
workbench compare --baseline … --candidate … --eval-set demo   # on the new version
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import (
    DEFAULT,
    ConfigOpt,
    JsonOpt,
    WorkspaceOpt,
    echo,
    emit_json,
    handled,
    workspace,
)

__all__ = ["judge_app", "register"]

judge_app = typer.Typer(help="Judge what the new model surfaces: export the unjudged pool, import labels.")


def register(app: typer.Typer) -> None:
    """Add ``workbench judge …`` to the CLI."""
    app.add_typer(judge_app, name="judge")


@judge_app.command("export")
def export_pool(
    comparison: Annotated[str, typer.Argument(help="A stored comparison id (see `workbench comparisons`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (TREC qrels lines, grade -1).")],
    k: Annotated[
        int | None, typer.Option(min=1, help="Depth of both top lists (default: the comparison's).")
    ] = None,
    query: Annotated[str | None, typer.Option(help="Only this query id.")] = None,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the documents of either side's top k that have no judgement, one line each."""
    from workbench import load_comparison
    from workbench.comparison.judging import write_pool

    with handled():
        cmp = load_comparison(workspace(workspace_uri, config), comparison)
        pool = cmp.unjudged(query, k=k)
        lines = write_pool(pool, out)
    data = {
        "comparison": cmp.id,
        "eval_set": cmp.manifest.eval_set,
        "queries": pool["query_id"].nunique(),
        "documents": lines,
        "out": str(out),
    }
    if as_json:
        emit_json(data)
        return
    echo(
        f"{lines} unjudged document(s) of {data['queries']} query(ies) → {out}; "
        f"replace each -1 with a grade (0, 1, 2), then `workbench judge import {out} --eval-set "
        f"{cmp.manifest.eval_set} --author NAME`"
    )


@judge_app.command("import")
def import_labels(
    path: Annotated[
        Path, typer.Argument(help="TREC (qid 0 docid grade) or BEIR qrels; -1 lines are skipped.")
    ],
    eval_set: Annotated[
        str, typer.Option("--eval-set", "-e", help="The eval set to add the labels to (its latest version).")
    ],
    author: Annotated[str, typer.Option(help="Who judged (recorded with the new version).")],
    note: Annotated[str, typer.Option(help="Why, recorded with the new version.")] = "",
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add the labels as the eval set's next version; the old version stays reproducible."""
    from workbench import add_judgements
    from workbench.comparison.judging import read_labels

    with handled():
        labels = read_labels(path)
        result = add_judgements(workspace(workspace_uri, config), eval_set, labels, author=author, note=note)
    if as_json:
        emit_json(
            {
                "eval_set": result.eval_set.name,
                "version": result.eval_set.version,
                "content_hash": result.eval_set.content_hash,
                "added": result.added,
                "changed": result.changed,
                "queries": result.queries,
            }
        )
    else:
        echo(result.message)
