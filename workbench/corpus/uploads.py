"""Files a user uploads (through the app) turned into a folder the readers understand.

An upload is either a BEIR folder packed as a ``.zip`` or loose files: a corpus
(``.jsonl``/``.csv``/``.parquet``) with optional queries and qrels. Either way the result is a
staging folder in the BEIR layout (``corpus.*``, ``queries.*``, ``qrels/<split>.tsv``), read and
validated by :func:`workbench.corpus.readers.read_collection` before anything is written to
the workspace. Archives are unpacked defensively: no absolute paths, no ``..``, a size cap.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from workbench.errors import DataError

__all__ = [
    "CORPUS_SUFFIXES",
    "MAX_UNPACKED_BYTES",
    "QRELS_SUFFIXES",
    "QUERY_SUFFIXES",
    "Upload",
    "stage_upload",
]

log = logging.getLogger(__name__)

CORPUS_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".parquet")
QUERY_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv")
QRELS_SUFFIXES = (".tsv", ".txt", ".qrels", ".trec")
MAX_UNPACKED_BYTES = 2 * 1024**3  # a zip bomb stops here, long before the disk fills


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name as the user had it, and its bytes."""

    name: str
    data: bytes


def stage_upload(
    dest: str | Path,
    corpus: Upload,
    *,
    queries: Upload | None = None,
    qrels: Upload | None = None,
    split: str = "test",
) -> Path:
    """Write the uploaded files as a BEIR-layout folder under ``dest``; returns that folder.

    Args:
        dest: An empty staging directory (created if missing), outside the workspace.
        corpus: A BEIR folder as ``.zip``, or a corpus file.
        queries: A queries file (only with a corpus file; a zip carries its own).
        qrels: A qrels file (BEIR ``query-id corpus-id score`` or TREC), likewise.
        split: The qrels split name the folder gets (``qrels/<split>.tsv``).

    Raises:
        DataError: an unknown file type, a broken or unsafe archive, an archive without a
            corpus file, or qrels without queries.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    stem = _safe_stem(corpus.name)
    if corpus.name.lower().endswith(".zip"):
        if queries is not None or qrels is not None:
            raise DataError("a .zip upload carries its own queries and qrels; upload the zip alone")
        return _unzip(corpus, dest / stem)
    folder = dest / stem
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder, "corpus", corpus, CORPUS_SUFFIXES)
    if qrels is not None and queries is None:
        raise DataError(f"qrels {qrels.name!r} need the queries they judge: upload a queries file too")
    if queries is not None:
        _write(folder, "queries", queries, QUERY_SUFFIXES)
    if qrels is not None:
        _suffix(qrels.name, QRELS_SUFFIXES, "qrels")
        (folder / "qrels").mkdir(exist_ok=True)
        (folder / "qrels" / f"{split}.tsv").write_bytes(qrels.data)
    return folder


def _write(folder: Path, role: str, upload: Upload, allowed: tuple[str, ...]) -> None:
    suffix = _suffix(upload.name, allowed, role)
    (folder / f"{role}{'.jsonl' if suffix in ('.json', '.ndjson') else suffix}").write_bytes(upload.data)


def _suffix(name: str, allowed: tuple[str, ...], role: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in allowed:
        raise DataError(
            f"{name}: a {role} file must end in {', '.join(allowed)}; got {suffix or 'no suffix'!r}"
        )
    return suffix


def _unzip(upload: Upload, target: Path) -> Path:
    """Unpack safely, then return the folder inside that holds ``corpus.*`` (the BEIR root)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.data))
    except zipfile.BadZipFile as exc:
        raise DataError(f"{upload.name}: not a readable zip archive ({exc})") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not _junk(m.filename)]
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise DataError(f"{upload.name}: unpacks to more than {MAX_UNPACKED_BYTES // 1024**3} GiB")
        for member in members:
            path = PurePosixPath(member.filename)
            if path.is_absolute() or ".." in path.parts:
                raise DataError(f"{upload.name}: unsafe path {member.filename!r} in the archive")
            out = target.joinpath(*path.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.read(member))
    roots = sorted(
        (p.parent for p in target.rglob("corpus.*") if p.suffix.lower() in CORPUS_SUFFIXES),
        key=lambda p: len(p.parts),
    )
    if not roots:
        raise DataError(
            f"{upload.name}: no corpus.jsonl (or .csv/.parquet) in the archive; zip a BEIR folder "
            "with corpus.jsonl, queries.jsonl and qrels/test.tsv"
        )
    root = roots[0]
    if root != target and root.name:
        log.info("%s: BEIR folder found at %s", upload.name, root.relative_to(target))
    return root


def _junk(name: str) -> bool:
    """macOS resource forks and Finder files that zips made on a Mac carry."""
    parts = PurePosixPath(name).parts
    return any(p == "__MACOSX" or p == ".DS_Store" or p.startswith("._") for p in parts)


def _safe_stem(name: str) -> str:
    stem = Path(name).name.split(".")[0]
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_.-")
    return cleaned or "upload"
