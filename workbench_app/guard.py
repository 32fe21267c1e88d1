"""What an app user may make the server do: which key variables and base URLs a served pin may use.

The app runs with the server's environment. Without these limits, the served-model form would
send any environment variable of the server process (a cloud token, a database password) as a
bearer token to any URL the user types. So the operator names what is allowed:

- ``WORKBENCH_APP_KEY_ENVS``: comma-separated names of the variables that may be used as API
  keys (none by default: a served model is then pinned without a key);
- ``WORKBENCH_APP_BASE_URLS``: comma-separated base URLs (or Ollama hosts) that may be pinned.
  The base URLs of served models already in the workspace's ``workbench.toml`` are allowed too
  (the operator, or the CLI, put them there). A URL is compared whole, a trailing ``/`` aside.

Paths are confined separately, by ``WORKBENCH_ALLOWED_ROOT``
(:func:`workbench.store.paths.confine_workspace`, :func:`workbench.store.paths.require_inside`).
"""

from __future__ import annotations

import os

from workbench import Workspace
from workbench.errors import InvalidArgumentError

__all__ = ["KEY_ENVS_VAR", "URLS_VAR", "allowed_base_urls", "allowed_key_envs", "check_served"]

KEY_ENVS_VAR = "WORKBENCH_APP_KEY_ENVS"
URLS_VAR = "WORKBENCH_APP_BASE_URLS"


def _listed(var: str) -> list[str]:
    return [item.strip() for item in os.environ.get(var, "").split(",") if item.strip()]


def _url_key(url: str) -> str:
    return url.strip().rstrip("/").lower()


def allowed_key_envs() -> list[str]:
    """The variable names the app may read an API key from (``WORKBENCH_APP_KEY_ENVS``)."""
    return _listed(KEY_ENVS_VAR)


def allowed_base_urls(ws: Workspace) -> list[str]:
    """``WORKBENCH_APP_BASE_URLS`` and the base URLs of the served models already in the config."""
    models = ws.config.all_models().values()
    configured = [ref.location for ref in models if ref.source in ("openai", "ollama")]
    return list(dict.fromkeys(_listed(URLS_VAR) + configured))


def check_served(ws: Workspace, *, url: str, key_env: str | None) -> None:
    """Refuse a served pin whose key variable or base URL the operator has not allowed.

    Checked before any request is sent, so a refused key never leaves the server.

    Raises:
        InvalidArgumentError: ``key_env`` is not on ``WORKBENCH_APP_KEY_ENVS`` or ``url`` is
            neither on ``WORKBENCH_APP_BASE_URLS`` nor in the workspace config.
    """
    if key_env:
        keys = allowed_key_envs()
        if key_env not in keys:
            allowed = f"the allowed ones are {', '.join(keys)}" if keys else "none is allowed"
            raise InvalidArgumentError(
                f"API key variable {key_env!r} is not on the app's allow-list ({KEY_ENVS_VAR}; {allowed}): "
                "the app does not send the server's environment variables to a URL typed here. Ask the "
                f"operator to add it to {KEY_ENVS_VAR}, or pin the model with the CLI "
                "(`workbench models add`)"
            )
    urls = allowed_base_urls(ws)
    if _url_key(url) not in {_url_key(u) for u in urls}:
        allowed = f"allowed: {', '.join(urls)}" if urls else "none is allowed"
        raise InvalidArgumentError(
            f"base URL {url!r} is not on the app's allow-list ({URLS_VAR} or a served model in "
            f"workbench.toml; {allowed}): the app sends requests only to servers the operator named. Ask the "
            f"operator to add it to {URLS_VAR}, or pin the model with the CLI (`workbench models add`)"
        )
