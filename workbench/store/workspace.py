"""Opening a workspace: a LanceDB database plus its ``workbench.toml``.

A workspace holds one table per corpus (``id``, ``title``, ``text``, ``content_hash`` and one
vector column per pinned model) and the workbench's own tables, whose names start with
``wb_`` (the record tables named in :mod:`workbench.contract`: eval sets, comparisons,
promotions, ...). Any LanceDB URI works; a local folder is the default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cache import cache_dir
from workbench.contract import (
    DEFAULT_WORKSPACE,
    META_CANARIES,
    META_CREATED,
    META_MODEL,
    META_PROGRESSIVE,
    META_SRC,
    META_USAGE,
    META_VERSIONS,
    RELOCATIONS_TABLE,
    RESERVED_PREFIX,
    STATE_DIR,
)
from workbench.errors import (
    ConcurrentChangeError,
    CorruptStateError,
    InvalidArgumentError,
    NotFoundError,
    WorkbenchError,
)
from workbench.models.ref import ModelRef
from workbench.store.config import CONFIG_NAME, WorkspaceConfig, load_config, save_config
from workbench.store.paths import local_path
from workbench.store.storage import is_remote

if TYPE_CHECKING:
    import lancedb
    import pyarrow as pa
    from lance import LanceDataset
    from lancedb.table import Table

    from workbench.store.view import ReadableTable, TableView

__all__ = [
    "VectorColumn",
    "Workspace",
    "column_metadata",
    "library_versions",
    "open_workspace",
    "read_tags",
    "set_tag",
    "table_metadata",
    "vector_columns",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VectorColumn:
    """A vector column and the pin of the one model that wrote it."""

    name: str
    ref: ModelRef
    src_column: str
    created_at: str
    library_versions: dict[str, str]
    canaries: str = ""
    usage: dict[str, float] | None = None
    progressive: dict[str, object] | None = None
    """Set while the column is filled progressively (rows not embedded yet are null): the
    priority order and the coverage recorded at the last run's end. None: a whole column."""

    @property
    def dim(self) -> int:
        return self.ref.dim

    @property
    def is_progressive(self) -> bool:
        return self.progressive is not None


class Workspace:
    """A LanceDB database and its configuration. Build it with :func:`open_workspace`."""

    def __init__(
        self,
        uri: str,
        db: lancedb.DBConnection | None,
        config: WorkspaceConfig,
        config_path: Path | None,
        *,
        storage_options: dict[str, str] | None = None,
    ) -> None:
        self.uri = uri
        self._db = db
        self.config = config
        self.config_path = config_path
        self.storage_options = storage_options
        """Object-store options (credentials included, resolved from the environment; kept in
        memory only). None: LanceDB reads the standard environment variables itself."""

    def __repr__(self) -> str:
        return f"Workspace({self.uri!r})"

    @property
    def db(self) -> lancedb.DBConnection:
        """The LanceDB connection, made on first use.

        Reads (:meth:`table_names`, :meth:`dataset`, :meth:`view`, the record tables) go through
        pylance alone, so a command that only reads (``status``, ``models``, ``history``) never
        imports LanceDB, whose import costs more than a second.
        """
        if self._db is None:
            import lancedb

            self._db = lancedb.connect(self.uri, storage_options=self.storage_options)
        return self._db

    def table_uri(self, name: str) -> str:
        """Where table ``name`` is stored: ``<workspace>/<name>.lance``, as LanceDB lays it out."""
        return f"{self.uri.rstrip('/')}/{name}.lance"

    def dataset(self, name: str, *, version: int | str | None = None) -> LanceDataset:
        """Table ``name`` as a read-only pylance dataset (its latest version, or ``version``)."""
        import lance

        if not self.has_table(name):
            have = ", ".join(self.table_names()) or "none yet — run `workbench ingest PATH`"
            raise NotFoundError(f"no table {name!r} in workspace {self.uri!r}; tables: {have}")
        return lance.dataset(self.table_uri(name), version=version, storage_options=self.storage_options)

    def view(self, name: str) -> TableView:
        """Table ``name`` opened for reading only, without a LanceDB connection (see :class:`TableView`)."""
        from workbench.store.view import TableView

        return TableView(name, self.dataset(name))

    @property
    def is_local(self) -> bool:
        return not is_remote(self.uri)

    @property
    def state_dir(self) -> Path:
        """Local folder for resumable-run checkpoints: inside a local workspace; for an
        object-store workspace, under the local cache (``WORKBENCH_CACHE``), keyed by URI, on
        the machine that drives the run."""
        if self.is_local:
            return Path(self.uri) / STATE_DIR
        return cache_dir() / "remote" / hashlib.sha256(self.uri.encode()).hexdigest()[:16]

    def table_names(self, *, include_internal: bool = False) -> list[str]:
        """Corpus tables (and, if asked, the workbench's own ``wb_*`` tables), sorted.

        A table folder without a committed version (left by a crash or a full disk while a
        table was created) is not a table: it is skipped here, and cleaned up by the next
        :meth:`create_table` of that name.
        """
        names = self._list()
        if include_internal:
            return sorted(names)
        return sorted(n for n in names if not n.startswith(RESERVED_PREFIX))

    def has_table(self, name: str) -> bool:
        return name in self._list()

    def _list(self) -> list[str]:
        """Committed tables: local folders with a manifest (no connection needed), else LanceDB's list."""
        if not self.is_local:
            return _list_tables(self.db)
        root = Path(self.uri)
        if not root.is_dir():
            return []
        return [p.name[: -len(".lance")] for p in root.glob("*.lance") if _has_manifest(p)]

    def create_table(self, name: str, data: pa.Table | pa.RecordBatchReader) -> Table:
        """Create table ``name`` whole or not at all, even if the process dies midway.

        In a local workspace the table is written aside (under :attr:`state_dir`) and moved into
        place with one atomic rename; an incomplete folder of the same name left by an earlier
        crash is removed first. Other URIs are written in place by LanceDB (object stores have
        no atomic rename).
        """
        import lancedb

        from workbench.killpoints import reached

        if not self.is_local:
            return self.db.create_table(name, data)
        staging = self.state_dir / "staging"
        _clear_abandoned(staging)
        staging.mkdir(parents=True, exist_ok=True)
        aside = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=staging))
        try:
            lancedb.connect(str(aside)).create_table(name, data)
            reached("ingest:staged")
            target = Path(self.uri) / f"{name}.lance"
            if target.exists() and not _has_manifest(target):
                log.warning("removing %s: an incomplete table left by an interrupted command", target)
                shutil.rmtree(target)
            if target.exists():
                raise ConcurrentChangeError(
                    f"table {name!r} was created by another process while this one wrote it; nothing "
                    "was written by this one. Re-run the command: it now updates that table."
                )
            os.rename(aside / f"{name}.lance", target)
        finally:
            shutil.rmtree(aside, ignore_errors=True)
        reached("ingest:created")
        return self.db.open_table(name)

    def table(self, name: str) -> Table:
        """Open a corpus table at its latest version; a miss lists the tables there are."""
        if not self.has_table(name):
            have = ", ".join(self.table_names()) or "none yet — run `workbench ingest PATH`"
            raise NotFoundError(f"no table {name!r} in workspace {self.uri!r}; tables: {have}")
        return self.db.open_table(name)

    def default_table(self, *, column: str | None = None) -> str:
        """The table a command means when none is named (see :meth:`pick_table`)."""
        return self.pick_table(column=column)[0]

    def pick_table(self, *, column: str | None = None) -> tuple[str, str]:
        """The table a command means when none is named, and why (``""`` when it is the only one).

        In order: the only corpus table; the workspace's ``default_table`` (``workbench.toml``);
        the only table that has ``column`` (a vector column name or a model alias). Anything
        else is ambiguous: an error listing the tables, asking to name one.
        """
        names = self.table_names()
        if len(names) == 1:
            return names[0], ""
        if not names:
            raise NotFoundError(
                f"workspace {self.uri!r} has no corpus table yet; run `workbench ingest PATH` "
                "or `workbench demo`"
            )
        if self.config.default_table is not None:
            return self.config.default_table, f"default_table in {CONFIG_NAME}"
        having = [n for n in names if self._has_column(n, column)] if column is not None else []
        if len(having) == 1:
            return having[0], f"the only table with {column}"
        hint = f"; {column!r} is in {len(having)} of them" if having else ""
        raise InvalidArgumentError(
            f"workspace has several tables ({', '.join(names)}){hint}: name one with --table NAME, "
            f'or set default_table = "NAME" in {CONFIG_NAME}'
        )

    def _has_column(self, table: str, column: str) -> bool:
        """Whether ``table`` has ``column``, a vector column name or a model alias's column."""
        names = {c.name for c in vector_columns(self.db.open_table(table))}
        ref = self.config.all_models().get(column)
        return column in names or (ref is not None and ref.column in names)

    def model(self, alias: str) -> ModelRef:
        return self.config.model(alias)

    def add_model(self, alias: str, ref: ModelRef) -> None:
        """Pin ``ref`` under ``alias`` in the workspace config file."""
        if self.config_path is None:
            raise InvalidArgumentError("this workspace has no config file path; pass config_path")
        self.config = self.config.with_model(alias, ref)
        save_config(self.config, self.config_path)

    def located(self, ref: ModelRef) -> ModelRef:
        """``ref`` at the location its served model answers at now (a local pin as it is).

        The one place a served pin's location is resolved: the location a pin recorded when
        it was made (in a column's metadata, an adapter, a stored canary) is overridden by
        ``workbench.toml`` (an alias pinned to the same fingerprint), else by the last
        relocation recorded with ``workbench models relocate``. The location is not part of
        the identity: the column, fingerprint and canaries stay, and every entry point
        re-checks the canaries at the new location before it uses the model.
        """
        if not ref.is_served:
            return ref
        location = next(
            (
                m.location
                for m in self.config.models.values()
                if m.fingerprint == ref.fingerprint and m.source == ref.source
            ),
            None,
        )
        if location is None:
            location = self._relocated_to(ref.fingerprint)
        if location is None or location == ref.location:
            return ref
        return ref.model_copy(update={"location": location})

    def _relocated_to(self, fingerprint: str) -> str | None:
        """Where ``workbench models relocate`` last moved the pin with ``fingerprint``, if ever."""
        if not self.has_table(RELOCATIONS_TABLE):
            return None
        import pyarrow.compute as pc

        found = self.dataset(RELOCATIONS_TABLE).to_table(
            columns=["at", "to_location"], filter=pc.field("fingerprint") == fingerprint
        )
        rows = found.to_pylist()
        return str(max(rows, key=lambda r: r["at"])["to_location"]) if rows else None

    def located_column(self, column: VectorColumn) -> VectorColumn:
        """``column`` with its pin at its model's current location (see :meth:`located`)."""
        ref = self.located(column.ref)
        return column if ref is column.ref else dataclasses.replace(column, ref=ref)

    def update_model(self, alias: str, **update: object) -> ModelRef:
        """Change ``alias``'s location or sunset in the config file (never its identity)."""
        if self.config_path is None:
            raise InvalidArgumentError("this workspace has no config file path; pass config_path")
        config = self.config.with_details(alias, **update)
        save_config(config, self.config_path)
        self.config = config
        return config.models[alias]

    def vector_columns(self, table: ReadableTable) -> list[VectorColumn]:
        """Every vector column of ``table`` with its pin (served models at their current location)."""
        return [self.located_column(c) for c in vector_columns(table)]

    def resolve_column(self, table: ReadableTable, name: str) -> VectorColumn:
        """A vector column by column name or by model alias (its model at its current location)."""
        columns = {c.name: c for c in self.vector_columns(table)}
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
    uri: str | Path = DEFAULT_WORKSPACE,
    *,
    config_path: str | Path | None = None,
    storage_options: dict[str, str] | None = None,
    create: bool = True,
) -> Workspace:
    """Connect to (and, for a local folder, create) a workspace.

    Args:
        uri: A local folder or any LanceDB URI (``s3://bucket/prefix``, ``gs://…``, ``az://…``).
        config_path: The TOML config; default ``<folder>/workbench.toml`` for a local
            workspace, none (catalog models only) for a remote one.
        storage_options: Object-store options (endpoint, region, credentials). Default: the
            config's ``[storage]`` table resolved against the environment, else none (LanceDB
            then reads ``AWS_*`` and the like from the environment).
        create: Create a missing local folder; with False a missing folder is an error (a
            command that only reads must not leave an empty workspace behind).

    Raises:
        NotFoundError: ``create`` is False and the local folder does not exist.
        InvalidArgumentError: the path is a file, or it (or ``config_path``) contains a NUL byte.

    Example:
        >>> ws = open_workspace("s3://bucket/ws", config_path="workbench.toml")  # doctest: +SKIP
    """
    uri = str(uri)
    is_local = not is_remote(uri)
    if config_path is not None:
        local_path(config_path, what="config path")
    if is_local:
        local_path(uri, what="workspace path")
        if Path(uri).exists() and not Path(uri).is_dir():
            raise InvalidArgumentError(f"workspace path {uri!r} is a file; give a folder")
        uri = os.path.abspath(uri)
        if not create and not Path(uri).is_dir():
            raise NotFoundError(
                f"workspace {uri!r} does not exist; check --workspace (or WORKBENCH_WORKSPACE), or "
                "create one with `workbench ingest PATH` or `workbench demo`"
            )
        Path(uri).mkdir(parents=True, exist_ok=True)
    if config_path is None and is_local:
        config_path = Path(uri) / CONFIG_NAME
    path = Path(config_path) if config_path is not None else None
    config = load_config(path) if path is not None else WorkspaceConfig()
    if storage_options is None and config.storage is not None and not is_local:
        storage_options = config.storage.resolve()
    return Workspace(uri, None, config, path, storage_options=storage_options)


def _has_manifest(folder: Path) -> bool:
    """True if a Lance dataset folder has at least one committed version."""
    versions = folder / "_versions"
    return versions.is_dir() and any(p.suffix == ".manifest" for p in versions.iterdir())


def _clear_abandoned(staging: Path) -> None:
    """Remove staging folders of processes that no longer run (a crash mid-create)."""
    if not staging.is_dir():
        return
    for entry in staging.iterdir():
        pid = entry.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _list_tables(db: lancedb.DBConnection) -> list[str]:
    result = db.list_tables()
    names = getattr(result, "tables", result)
    return list(names)


def vector_columns(table: ReadableTable) -> list[VectorColumn]:
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
                canaries=meta.get(META_CANARIES.encode(), b"").decode(),
                usage=json.loads(meta[META_USAGE.encode()]) if META_USAGE.encode() in meta else None,
                progressive=_progressive(meta),
            )
        )
    return columns


def _progressive(meta: dict[bytes, bytes]) -> dict[str, object] | None:
    raw = meta.get(META_PROGRESSIVE.encode())
    if not raw:  # absent, or cleared (an empty value) when the column was completed
        return None
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def column_metadata(ref: ModelRef, *, canaries: str | None = None) -> dict[str, str]:
    """The field metadata a new vector column carries: pin, time, library versions, canaries."""
    meta = {
        META_MODEL: ref.model_dump_json(),
        META_SRC: ref.src_column,
        META_CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
        META_VERSIONS: json.dumps(library_versions(), sort_keys=True),
    }
    if canaries:
        meta[META_CANARIES] = canaries
    return meta


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape vectors and numbers, for manifests."""
    return dict(_library_versions())


@cache
def _library_versions() -> dict[str, str]:
    """Read once per process: a metadata lookup walks ``sys.path`` (0.05-0.17 s for all of them)."""
    import importlib.metadata

    names = (
        "embedding-workbench",
        "lancedb",
        "pylance",
        "sentence-transformers",
        "openai",
        "ollama",
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


def table_metadata(table: ReadableTable) -> dict[str, str]:
    """The table-level (schema) metadata at the checked-out version, decoded."""
    meta = table.schema.metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items()}


def read_tags(table: ReadableTable, *, attempts: int = 5) -> dict[str, dict[str, Any]]:
    """``table.tags.list()``, retried while another process moves tags.

    Listing reads every tag file; a promotion or rollback in another process can replace one
    between the listing and the read (``Not found: …/_refs/tags/production-8.json``). That is
    not damage: the read is repeated (a few times, a few milliseconds apart).
    """
    for attempt in range(attempts):
        try:
            return dict(table.tags.list())
        except (RuntimeError, OSError) as exc:
            if "not found" not in str(exc).lower() or attempt == attempts - 1:
                raise
            time.sleep(0.005 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def set_tag(table: Table, tag: str, version: int) -> None:
    """Point ``tag`` at ``version``, creating it if needed (tag moves make no table version)."""
    if tag in table.tags.list():
        table.tags.update(tag, version)
    else:
        table.tags.create(tag, version)
