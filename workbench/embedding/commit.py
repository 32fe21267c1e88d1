"""The one commit that ends an embedding run: every checkpoint lands in one table version.

Nothing a run computes is visible in the table until its commit adds the new columns whole:

- local engine (:func:`commit_batches`): lance ``add_columns`` fed from the batch checkpoints
  in scan order — about N·d·4 bytes written, memory bounded by a batch, where a ``merge`` hash
  join would hold every vector;
- Ray engine (:func:`commit_fragments`): one ``LanceOperation.Merge`` of the data files the
  workers wrote, read at the table version the run started from.

``lance`` is imported inside each function: it takes about a third of a second to import, and
the store keeps it off the CLI's start-up path in the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from workbench.embedding.checkpoint import BatchRun, FragmentResult
from workbench.errors import ConcurrentChangeError, CorruptStateError

if TYPE_CHECKING:
    from lancedb.table import Table

__all__ = ["commit_batches", "commit_fragments"]


def commit_batches(table: Table, run: BatchRun, schema: pa.Schema, batch_size: int) -> None:
    """Add the checkpointed columns in one version, streaming (memory O(batch), not O(N)).

    ``add_columns`` hands the UDF the rows in scan order; each call takes the next rows of
    the checkpoint stream and checks that their ids are the batch's ids, so any other order
    raises before anything is committed.

    Raises:
        CorruptStateError: the checkpoints are not in the table's scan order.
    """
    import lance

    out_schema = pa.schema([schema.field(1), schema.field(2)])
    stream = run.reader(schema)
    pending: list[pa.RecordBatch] = []

    def take(n: int) -> pa.Table:
        pieces = []
        while n:
            if not pending:
                pending.append(stream.read_next_batch())
            head = pending[0]
            k = min(n, head.num_rows)
            pieces.append(head.slice(0, k))
            pending[0] = head.slice(k)
            if pending[0].num_rows == 0:
                pending.pop(0)
            n -= k
        return pa.Table.from_batches(pieces, schema=schema)

    @lance.batch_udf(output_schema=out_schema)
    def columns(batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = take(batch.num_rows)
        if not rows.column("id").combine_chunks().equals(batch.column("id")):
            raise CorruptStateError("checkpoints are not in the table's scan order; nothing was committed")
        return pa.RecordBatch.from_arrays(
            [rows.column(1).combine_chunks(), rows.column(2).combine_chunks()], schema=out_schema
        )

    table.to_lance().add_columns(columns, read_columns=["id"], batch_size=batch_size)
    table.checkout_latest()


def commit_fragments(
    uri: str,
    results: list[FragmentResult],
    *,
    read_version: int,
    storage_options: dict[str, str] | None,
) -> None:
    """Commit every fragment's new columns in one ``Merge`` version (read at ``read_version``).

    Raises:
        CorruptStateError: the fragments carry different schemas.
        ConcurrentChangeError: another writer committed since ``read_version``; nothing of this
            run was committed.
    """
    import lance
    from lance import LanceOperation
    from lance.commit import CommitConflictError

    schemas = {id(r.schema): r.schema for r in results}
    first = results[0].schema
    if any(s != first for s in schemas.values()):
        raise CorruptStateError(
            "fragments of one run carry different schemas; delete the run's checkpoints "
            "(the state folder) and embed again"
        )
    operation = LanceOperation.Merge([r.metadata for r in results], first)
    try:
        lance.LanceDataset.commit(uri, operation, read_version=read_version, storage_options=storage_options)
    except CommitConflictError as exc:
        raise ConcurrentChangeError(
            f"another writer committed to {uri} while the column was computed; nothing was "
            f"committed ({str(exc).split(',')[0]}). Run `workbench embed` again to embed the "
            "current rows."
        ) from exc
