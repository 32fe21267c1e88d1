"""``workbench index``: build one vector column's ANN index (thin over :mod:`workbench.store.index`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli.common import (
    DEFAULT,
    ConfigOpt,
    JsonOpt,
    TableOpt,
    WorkspaceOpt,
    echo,
    emit_json,
    handled,
    progress_bar,
    table_name,
    workspace,
)

if TYPE_CHECKING:
    from workbench.store.index import IndexInfo
    from workbench.store.production import Production

__all__ = ["index_cmd", "register"]

INDEX_HELP = """Build (or rebuild) the ANN index of one vector column, for serving and compare.

Defaults come from the row count and dimension: below 50k rows IVF_HNSW_SQ (one graph, near
exact), above IVF_PQ with ~8k rows per partition, a quarter of them probed, dim/8 sub-vectors and
a refine on the full vectors that grows with the table (10x to 200k rows, 50x from 800k). The
build and search parameters are recorded with the column, so production pins them and a
rollback restores them. `workbench compare` then reports the index's recall@k against the
exact search, the metrics through the index and the latency both ways. Ingest keeps indexes
current; `workbench status` shows each index's unindexed rows. Index a candidate before
promoting it: the promoted version then contains the index. `--tune` changes only the search
parameters of an existing index (no rebuild), e.g. after compare reports a recall below the gate.
"""

IntOpt = int | None


def register(app: typer.Typer) -> None:
    """Add ``index`` to ``app``."""
    app.command("index", help=INDEX_HELP)(index_cmd)


def index_cmd(
    column: Annotated[str, typer.Argument(help="Vector column name or model alias.")],
    index_type: Annotated[
        str | None, typer.Option("--type", help="IVF_PQ, IVF_HNSW_SQ or IVF_FLAT (default: by row count).")
    ] = None,
    partitions: Annotated[IntOpt, typer.Option("--partitions", help="IVF partitions.")] = None,
    sub_vectors: Annotated[
        IntOpt, typer.Option("--sub-vectors", help="PQ sub-vectors (divides the dim).")
    ] = None,
    nprobes: Annotated[IntOpt, typer.Option("--nprobes", help="Partitions searched per query.")] = None,
    refine: Annotated[IntOpt, typer.Option("--refine", help="Re-rank refine x k candidates exactly.")] = None,
    ef: Annotated[IntOpt, typer.Option("--ef", help="HNSW search beam.")] = None,
    tune: Annotated[
        bool,
        typer.Option(
            "--tune",
            help="Only change the search parameters (--nprobes/--refine/--ef) of the existing index.",
        ),
    ] = False,
    workspace_uri: WorkspaceOpt = DEFAULT,
    config: ConfigOpt = None,
    table: TableOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from workbench import build_index
    from workbench.errors import InvalidArgumentError
    from workbench.store.index import INDEX_TYPES, default_spec, tune_index
    from workbench.store.production import production

    with handled():
        if tune and (index_type or partitions or sub_vectors):
            raise InvalidArgumentError(
                "--tune changes search parameters only; --type, --partitions and --sub-vectors need "
                "a rebuild (drop --tune)"
            )
        if index_type is not None and index_type.upper() not in INDEX_TYPES:
            raise InvalidArgumentError(
                f"unknown index type {index_type!r}; choose one of {', '.join(INDEX_TYPES)}"
            )
        ws = workspace(workspace_uri, config)
        handle = ws.table(table_name(ws, table, column=column))
        target = ws.resolve_column(handle, column)
        if tune:
            info = tune_index(handle, target, nprobes=nprobes, refine_factor=refine, ef=ef)
            _report(info, handle.version, production(handle), as_json=as_json, verb="tuned")
            return
        spec = default_spec(
            handle.count_rows(),
            target.dim,
            index_type.upper() if index_type else None,  # type: ignore[arg-type]
            num_partitions=partitions,
            num_sub_vectors=sub_vectors,
            nprobes=nprobes,
            refine_factor=refine,
            ef=ef,
        )
        with progress_bar(f"indexing {target.name} ({spec.index_type})", unit="steps") as bar:
            info = build_index(handle, target, spec=spec, on_progress=bar)
        _report(info, handle.version, production(handle), as_json=as_json, verb="built")


def _report(info: IndexInfo, version: int, current: Production | None, *, as_json: bool, verb: str) -> None:
    if as_json:
        emit_json(info.to_dict())
        return
    took = f" in {info.build_s:.1f} s" if verb == "built" and info.build_s is not None else ""
    echo(f"{verb} {info.describe()} on {info.column}: {info.indexed_rows} rows{took} (table v{version})")
    if current is not None and current.column == info.column and current.version != version:
        echo(
            f"production (v{current.version}) serves {info.column} without this change: run "
            "`workbench refresh` to serve through it"
        )
