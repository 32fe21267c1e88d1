"""What a ``workbench serve`` process is started with, passed to each uvicorn worker as JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

from workbench.errors import InvalidArgumentError
from workbench.store.query_log import TEXT_MODES

__all__ = ["ENV_SETTINGS", "ServiceSettings"]

ENV_SETTINGS = "WORKBENCH_SERVE_SETTINGS"
"""The environment variable the parent process hands the settings to its workers in (no secrets)."""


@dataclass(frozen=True)
class ServiceSettings:
    """The settings of one service (the token itself is never here: only the variable's name).

    Raises:
        InvalidArgumentError: a limit below 1, an interval ≤ 0, a sample outside [0, 1].
    """

    workspace: str
    table: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    token_env: str | None = None
    """Name of the environment variable holding the bearer token; None: no authentication."""
    follow_interval: float = 2.0
    """Seconds between two checks of the ``production`` tag and the rollout record."""
    max_k: int = 100
    max_batch: int = 64
    max_query_chars: int = 4096
    max_body_bytes: int = 1_000_000
    shadow_queue: int = 256
    """Shadow queries waiting at most; more are dropped (and counted)."""
    shadow_text: str = "hashed"
    """How the shadow log keeps query text: ``hashed``, ``plain`` (needed to judge them) or ``none``."""
    query_log_rate: float = 0.0
    """Share of answered queries logged for monitoring (0: no query log)."""
    access_log: bool = False
    """uvicorn's line per request (off: ``/metrics`` counts requests, and each line costs latency)."""

    def __post_init__(self) -> None:
        for name in (
            "port",
            "workers",
            "max_k",
            "max_batch",
            "max_query_chars",
            "max_body_bytes",
            "shadow_queue",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "port" else 1):
                raise InvalidArgumentError(
                    f"{name.replace('_', '-')} must be a positive integer, got {value!r}"
                )
        if not self.follow_interval > 0:
            raise InvalidArgumentError(f"--interval must be positive seconds, got {self.follow_interval!r}")
        if not 0.0 <= self.query_log_rate <= 1.0:
            raise InvalidArgumentError(f"--query-log must be a share in [0, 1], got {self.query_log_rate!r}")
        if self.shadow_text not in TEXT_MODES:
            raise InvalidArgumentError(
                f"--shadow-text must be hashed, plain or none, got {self.shadow_text!r}"
            )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServiceSettings:
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_env(cls) -> ServiceSettings:
        """The settings a worker was started with (:data:`ENV_SETTINGS`)."""
        text = os.environ.get(ENV_SETTINGS)
        if not text:
            raise InvalidArgumentError(f"{ENV_SETTINGS} is not set; start the service with `workbench serve`")
        return cls.from_json(text)

    def token(self) -> str | None:
        """The bearer token from :attr:`token_env` (None without one).

        Raises:
            InvalidArgumentError: the variable is named but unset or empty.
        """
        if self.token_env is None:
            return None
        value = os.environ.get(self.token_env, "")
        if not value.strip():
            raise InvalidArgumentError(
                f"--token-env names {self.token_env}, which is not set or empty; export the token in it first"
            )
        return value.strip()
