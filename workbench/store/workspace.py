"""Opening a workspace: a LanceDB database plus its ``workbench.toml``.

A workspace holds one table per corpus (``id``, ``title``, ``text``, ``content_hash`` and one
vector column per pinned model) and the workbench's own tables, whose names start with
``wb_`` (eval sets, comparisons, promotions). Any LanceDB URI works; a local folder is the
default.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import CorruptStateError, InvalidArgumentError, NotFoundError, WorkbenchError
from workbench.models.catalog import cache_dir
from workbench.models.ref import ModelRef
from workbench.store.config import CONFIG_NAME, WorkspaceConfig, load_config, save_config
from workbench.store.contract import (
    DEFAULT_WORKSPACE,
    META_CREATED,
    META_MODEL,
    META_SRC,
    META_VERSIONS,
    RESERVED_PREFIX,
)

if TYPE_CHECKING:
    import lancedb
    from lancedb.table import Table

__all__ = [
    "VectorColumn",
    "Workspace",
    "column_metadata",
    "library_versions",
    "open_workspace",
    "set_tag",
    "table_metadata",
    "vector_columns",
]


@dataclass(frozen=True)
class VectorColumn:
    """A vector column and the pin of the one model that wrote it."""

    name: str
    ref: ModelRef
    src_column: str
    created_at: str
    library_versions: dict[str, str]

    @property
    def dim(self) -> int:
        return self.ref.dim


class Workspace:
    """A LanceDB database and its configuration. Build it with :func:`open_workspace`."""

    def __init__(
        self, uri: str, db: lancedb.DBConnection, config: WorkspaceConfig, config_path: Path | None
    ) -> None:
        self.uri = uri
        self.db = db
        self.config = config
        self.config_path = config_path

    def __repr__(self) -> str:
        return f"Workspace({self.uri!r})"

    @property
    def is_local(self) -> bool:
        return "://" not in self.uri

    @property
    def state_dir(self) -> Path:
        """Local folder for resumable-run checkpoints (inside a local workspace)."""
        if self.is_local:
            return Path(self.uri) / "_workbench_state"
        return cache_dir() / "remote" / hashlib.sha256(self.uri.encode()).hexdigest()[:16]

    def table_names(self, *, include_internal: bool = False) -> list[str]:
        """Corpus tables (and, if asked, the workbench's own ``wb_*`` tables), sorted."""
        names = _list_tables(self.db)
        if include_internal:
            return sorted(names)
        return sorted(n for n in names if not n.startswith(RESERVED_PREFIX))

    def has_table(self, name: str) -> bool:
        return name in _list_tables(self.db)

    def table(self, name: str) -> Table:
        """Open a corpus table at its latest version; a miss lists the tables there are."""
        if not self.has_table(name):
            have = ", ".join(self.table_names()) or "none yet — run `workbench ingest PATH`"
            raise NotFoundError(f"no table {name!r} in workspace {self.uri!r}; tables: {have}")
        return self.db.open_table(name)

    def default_table(self) -> str:
        """The only corpus table, or an error asking to name one."""
        names = self.table_names()
        if len(names) == 1:
            return names[0]
        if not names:
            raise NotFoundError(
                f"workspace {self.uri!r} has no corpus table yet; run `workbench ingest PATH` "
                "or `workbench demo`"
            )
        raise InvalidArgumentError(f"workspace has several tables ({', '.join(names)}): name one")

    def model(self, alias: str) -> ModelRef:
        return self.config.model(alias)

    def add_model(self, alias: str, ref: ModelRef) -> None:
        """Pin ``ref`` under ``alias`` in the workspace config file."""
        if self.config_path is None:
            raise InvalidArgumentError("this workspace has no config file path; pass config_path")
        self.config = self.config.with_model(alias, ref)
        save_config(self.config, self.config_path)

    def vector_columns(self, table: Table) -> list[VectorColumn]:
        """Every vector column of ``table`` with its pin, from the field metadata."""
        return vector_columns(table)

    def resolve_column(self, table: Table, name: str) -> VectorColumn:
        """A vector column by column name or by model alias."""
        columns = {c.name: c for c in vector_columns(table)}
        if name in columns:
            return columns[name]
        known = self.config.all_models()
        if name in known and known[name].column in columns:
            return columns[known[name].column]
        aliases = [a for a, r in known.items() if r.column in columns]
        raise NotFoundError(
            f"no vector column {name!r} in table {table.name!r}; columns: "
            f"{', '.join(columns) or 'none — run `workbench embed --model ALIAS`'}"
            + (f" (aliases: {', '.join(aliases)})" if aliases else "")
        )


def open_workspace(
    uri: str | Path = DEFAULT_WORKSPACE, *, config_path: str | Path | None = None
) -> Workspace:
    """Connect to (and, for a local folder, create) a workspace.

    Args:
        uri: A local folder or any LanceDB URI (``s3://…``).
        config_path: The TOML config; default ``<folder>/workbench.toml`` for a local
            workspace, none (catalog models only) for a remote one.
    """
    import lancedb

    uri = str(uri)
    is_local = "://" not in uri
    if is_local:
        if Path(uri).exists() and not Path(uri).is_dir():
            raise InvalidArgumentError(f"workspace path {uri!r} is a file; give a folder")
        uri = os.path.abspath(uri)
        Path(uri).mkdir(parents=True, exist_ok=True)
    if config_path is None and is_local:
        config_path = Path(uri) / CONFIG_NAME
    path = Path(config_path) if config_path is not None else None
    config = load_config(path) if path is not None else WorkspaceConfig()
    return Workspace(uri, lancedb.connect(uri), config, path)


def _list_tables(db: lancedb.DBConnection) -> list[str]:
    result = db.list_tables()
    names = getattr(result, "tables", result)
    return list(names)


def vector_columns(table: Table) -> list[VectorColumn]:
    """Every vector column of ``table`` (at the version it is checked out at)."""
    columns = []
    for field in table.schema:
        meta = field.metadata or {}
        raw = meta.get(META_MODEL.encode())
        if raw is None:
            continue
        try:
            ref = ModelRef.parse(raw)
        except WorkbenchError as exc:
            raise CorruptStateError(
                f"table {table.name!r}: the pin stored with column {field.name!r} is unreadable ({exc}); "
                "restore the table to a version before the damage (`workbench status` lists versions)"
            ) from exc
        columns.append(
            VectorColumn(
                name=field.name,
                ref=ref,
                src_column=meta.get(META_SRC.encode(), b"").decode(),
                created_at=meta.get(META_CREATED.encode(), b"").decode(),
                library_versions=json.loads(meta.get(META_VERSIONS.encode(), b"{}")),
            )
        )
    return columns


def column_metadata(ref: ModelRef) -> dict[str, str]:
    """The field metadata a new vector column carries: pin, time, library versions."""
    return {
        META_MODEL: ref.model_dump_json(),
        META_SRC: ref.src_column,
        META_CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
        META_VERSIONS: json.dumps(library_versions(), sort_keys=True),
    }


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape vectors and numbers, for manifests."""
    import importlib.metadata

    names = (
        "embedding-workbench",
        "lancedb",
        "pylance",
        "sentence-transformers",
        "transformers",
        "torch",
        "numpy",
        "pytrec-eval-terrier",
        "scipy",
    )
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def table_metadata(table: Table) -> dict[str, str]:
    """The table-level (schema) metadata at the checked-out version, decoded."""
    meta = table.schema.metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items()}


def set_tag(table: Table, tag: str, version: int) -> None:
    """Point ``tag`` at ``version``, creating it if needed (tag moves make no table version)."""
    if tag in table.tags.list():
        table.tags.update(tag, version)
    else:
        table.tags.create(tag, version)
