"""What to pin, as one typed object: the options of ``workbench models add`` and the app's pin forms.

``PinOptions`` holds every option of a new pin (where the model is, how to call it, the settings
that change its vectors) and checks, once, the rules that span options: which options each
source needs, and that input types go only to OpenAI-compatible servers. The CLI builds it from
its flags, the app from its form fields, a notebook by hand; ``store.pins.pin_model`` takes it.

A refusal is a :class:`PinOptionError` that carries the option names as fields
(``base_url``), so each client names them its own way: the CLI as flags (``--base-url``), the
app by its field labels (:meth:`PinOptionError.describe`).

Example:
    >>> options = PinOptions(source="openai", base_url="http://127.0.0.1:8000/v1", model="e5",
    ...                      query_input_type="query", document_input_type="passage")
    >>> options.required()
    ('http://127.0.0.1:8000/v1', 'e5')
    >>> try:
    ...     PinOptions(source="ollama", model="nomic-embed-text:v1.5", query_input_type="query")
    ... except PinOptionError as exc:
    ...     print(exc.options, exc.describe(lambda option: "--" + option.replace("_", "-"))[:60])
    ('query_input_type',) --query-input-type is sent only to OpenAI-compatible servers
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from workbench.errors import InvalidArgumentError
from workbench.models.ref import ServingOptions

__all__ = [
    "OPENAI_ONLY",
    "PIN_SOURCES",
    "REQUIRED",
    "PinOptionError",
    "PinOptions",
    "PinProblem",
    "PinSource",
    "pin_source",
]

PinSource = Literal["path", "openai", "ollama"]
"""Where a new pin comes from: a local sentence-transformers directory, an OpenAI-compatible
``/v1/embeddings`` server, or an Ollama server."""

PIN_SOURCES: tuple[PinSource, ...] = get_args(PinSource)

REQUIRED: Mapping[PinSource, tuple[str, ...]] = {
    "path": ("path", "revision"),
    "openai": ("base_url", "model"),
    "ollama": ("model",),
}
"""The options each source cannot do without, in the order :meth:`PinOptions.required` returns them."""

OPENAI_ONLY = ("query_input_type", "document_input_type")
"""Request fields only an OpenAI-compatible server receives; other sources take prefixes instead."""

PinProblem = Literal["missing", "openai_only"]


def _as_is(option: str) -> str:
    return option


class PinOptionError(InvalidArgumentError):
    """A pin option is missing for its source, or given to a source that cannot use it.

    Attributes:
        problem: ``missing`` (the source needs ``options``) or ``openai_only`` (``options`` are
            sent only to OpenAI-compatible servers).
        source: The source the options were given for.
        options: The options at fault, as :class:`PinOptions` field names.
    """

    def __init__(self, problem: PinProblem, *, source: str, options: tuple[str, ...]) -> None:
        self.problem: PinProblem = problem
        self.source = source
        self.options = options
        super().__init__(self.describe())

    def describe(self, name: Callable[[str], str] = _as_is) -> str:
        """The message, with each option (and ``source``) written as ``name`` spells it.

        The default spells field names (``base_url``); the CLI passes its flag spelling
        (``--base-url``), the app its field labels.
        """
        given = ", ".join(name(option) for option in self.options)
        source = f"{name('source')} {self.source}"
        if self.problem == "missing":
            return f"{source} needs {given}"
        return (
            f"{given} is sent only to OpenAI-compatible servers ({name('source')} openai); a model "
            f"from {source} takes {name('query_prefix')}/{name('document_prefix')} instead"
        )


def pin_source(value: str) -> PinSource:
    """``value`` as a :data:`PinSource`, or an error that lists the sources.

    Raises:
        InvalidArgumentError: ``value`` is not one of ``path``, ``openai``, ``ollama``.
    """
    for source in PIN_SOURCES:
        if value == source:
            return source
    raise InvalidArgumentError(f"unknown source {value!r}; choose one of {', '.join(PIN_SOURCES)}")


@dataclass(frozen=True, kw_only=True)
class PinOptions:
    """Every option of a new pin, checked together when the object is made.

    Options a source does not use are ignored (``dimensions`` for a local directory, ``host``
    for an OpenAI-compatible server), except the input types, which are refused outside
    ``openai`` because the vectors would silently differ from what was asked.

    Attributes:
        source: ``path``, ``openai`` or ``ollama`` (:data:`PinSource`).
        path: ``path``: the sentence-transformers directory (required).
        revision: ``path``: an exact, non-moving label (required; ``latest`` is refused).
        name: ``path``: the model's name (default: the folder's name).
        allow_pickle: ``path``: permit ``*.bin`` pickle weights (pickle runs code).
        base_url: ``openai``: the server's ``…/v1`` URL (required).
        api_key_env: ``openai``: the NAME of the environment variable holding the API key;
            the key is read at run time and never stored.
        query_input_type: ``openai`` only: the ``input_type`` sent with queries (E5: ``query``),
            for a model that embeds queries and documents apart. Blank means none.
        document_input_type: ``openai`` only: the same for documents (E5: ``passage``).
        host: ``ollama``: the server (default ``http://127.0.0.1:11434``).
        digest: ``ollama``: the manifest digest you expect; another one is refused.
        model: Served: the model name (required; ``ollama``: ``name:tag``, ``latest`` refused).
        dimensions: Served: ask the server for this many dimensions (refused if it ignores them).
        query_prefix: Text prepended to every query (e.g. ``"query: "`` for E5).
        document_prefix: Text prepended to every document.
        serving: Served: request options (batching, concurrency, retries, price).
        canary_threshold: Minimum cosine of the canary re-check, in [0, 1].

    Raises:
        PinOptionError: a required option is missing, or input types are given outside ``openai``.
        InvalidArgumentError: an unknown source, ``dimensions`` below 1, a threshold outside [0, 1].
    """

    source: PinSource
    path: str | Path | None = None
    revision: str | None = None
    name: str | None = None
    allow_pickle: bool = False
    base_url: str | None = None
    api_key_env: str | None = None
    query_input_type: str | None = None
    document_input_type: str | None = None
    host: str | None = None
    digest: str | None = None
    model: str | None = None
    dimensions: int | None = None
    query_prefix: str = ""
    document_prefix: str = ""
    serving: ServingOptions | None = None
    canary_threshold: float = 0.999

    def __post_init__(self) -> None:
        pin_source(self.source)
        for option in OPENAI_ONLY:  # a blank form field or flag sends nothing
            object.__setattr__(self, option, getattr(self, option) or None)
        given = tuple(option for option in OPENAI_ONLY if getattr(self, option))
        if given and self.source != "openai":
            raise PinOptionError("openai_only", source=self.source, options=given)
        self.required()
        if self.dimensions is not None and self.dimensions < 1:
            raise InvalidArgumentError(f"dimensions must be a positive integer, got {self.dimensions}")
        if not 0 <= self.canary_threshold <= 1:
            raise InvalidArgumentError(
                f"canary_threshold must be a cosine in [0, 1], got {self.canary_threshold}"
            )

    def required(self) -> tuple[str, ...]:
        """The values of the source's required options (:data:`REQUIRED`), in that order.

        Raises:
            PinOptionError: some are missing or blank (all of those are named).
        """
        options = REQUIRED[self.source]
        values = {option: getattr(self, option) for option in options}
        missing = tuple(option for option, value in values.items() if value in (None, ""))
        if missing:
            raise PinOptionError("missing", source=self.source, options=missing)
        return tuple(str(value) for value in values.values())
