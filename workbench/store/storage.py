"""Object-storage settings of a workspace: ``[storage]`` in ``workbench.toml`` plus the environment.

A workspace URI such as ``s3://bucket/prefix`` (``gs://``, ``az://`` likewise) needs an endpoint,
a region and credentials. Credentials are **never** written to a file: the config names the
environment variables that hold them.

```toml
[storage]
endpoint = "https://minio.internal:9000"   # optional: S3-compatible servers
region = "eu-west-1"
allow_http = false
access_key_id_env = "MY_S3_KEY"            # the NAME of an environment variable
secret_access_key_env = "MY_S3_SECRET"
session_token_env = "MY_S3_TOKEN"          # optional
[storage.options]                          # any other LanceDB/object_store option, verbatim
"aws_s3_express" = "false"
```

Without a ``[storage]`` table the standard variables (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``, and the
Google/Azure equivalents) are read by LanceDB itself.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from workbench.errors import ConfigError

__all__ = ["StorageConfig", "is_remote"]

_SECRET_WORDS = ("secret", "password", "token", "key")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


class StorageConfig(BaseModel):
    """Validated ``[storage]`` settings; secrets are referenced by environment-variable name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str | None = None
    region: str | None = None
    allow_http: bool | None = None
    access_key_id_env: str | None = None
    secret_access_key_env: str | None = None
    session_token_env: str | None = None
    options: dict[str, str] = {}

    @field_validator("access_key_id_env", "secret_access_key_env", "session_token_env")
    @classmethod
    def _env_names(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ConfigError(
                f"{info.field_name} must be the NAME of an environment variable (letters, digits, "
                "underscores), not the credential itself; export the credential in that variable"
            )
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_without_credentials(cls, value: str | None) -> str | None:
        if value is not None and "@" in urllib.parse.urlsplit(value.strip()).netloc:
            raise ConfigError(
                "endpoint carries credentials (user:key@host); remove them and name the variables "
                "that hold them with access_key_id_env / secret_access_key_env"
            )
        return value

    @field_validator("options")
    @classmethod
    def _no_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        leaked = sorted(k for k in value if any(w in k.lower() for w in _SECRET_WORDS))
        if leaked:
            raise ConfigError(
                f"[storage.options] must not hold credentials ({', '.join(leaked)}): put them in "
                "environment variables and name those with access_key_id_env / "
                "secret_access_key_env / session_token_env"
            )
        return value

    def resolve(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The storage options LanceDB takes, with credentials read from the environment now.

        Raises:
            ConfigError: a named credential variable is not set.
        """
        env = os.environ if environ is None else environ
        found = dict(self.options)
        if self.endpoint:
            found["aws_endpoint"] = self.endpoint
        if self.region:
            found["aws_region"] = self.region
        if self.allow_http is not None:
            found["allow_http"] = str(self.allow_http).lower()
        for option, name in (
            ("aws_access_key_id", self.access_key_id_env),
            ("aws_secret_access_key", self.secret_access_key_env),
            ("aws_session_token", self.session_token_env),
        ):
            if name is None:
                continue
            if not env.get(name):
                raise ConfigError(
                    f"[storage] names the environment variable {name!r} for {option}, but it is "
                    f"not set; export {name}=… before running"
                )
            found[option] = env[name]
        return found


def is_remote(uri: str) -> bool:
    """True for an object-store (or any non-local) URI."""
    return "://" in uri and not uri.startswith("file://")
