"""``PinOptions``: one typed object for a new pin, checked once; refusals name fields, clients spell them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli.app import app
from workbench.errors import ConfigError, InvalidArgumentError
from workbench.models.pin_options import PinOptionError, PinOptions, pin_source
from workbench.store.config import load_config
from workbench.store.pins import pin_model
from workbench.store.workspace import Workspace

runner = CliRunner()
OPENAI = {"base_url": "http://127.0.0.1:9/v1", "model": "e5"}


def flag(option: str) -> str:
    return "--" + option.replace("_", "-")


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"source": "path"}, ("path", "revision")),
        ({"source": "path", "path": "/models/m", "revision": ""}, ("revision",)),
        ({"source": "openai"}, ("base_url", "model")),
        ({"source": "openai", "model": "e5"}, ("base_url",)),
        ({"source": "ollama", "host": "http://127.0.0.1:11434"}, ("model",)),
    ],
)
def test_a_missing_option_is_named_by_its_field(given: dict[str, str], missing: tuple[str, ...]) -> None:
    source = given["source"]
    with pytest.raises(PinOptionError, match=rf"^source {source} needs {', '.join(missing)}$") as caught:
        PinOptions(**given)  # type: ignore[arg-type]
    assert (caught.value.problem, caught.value.source, caught.value.options) == ("missing", source, missing)
    assert isinstance(caught.value, InvalidArgumentError)


@pytest.mark.parametrize("source", ["ollama", "path"])
@pytest.mark.parametrize(
    ("types", "named"),
    [
        ({"query_input_type": "query"}, "query_input_type"),
        ({"document_input_type": "passage"}, "document_input_type"),
        (
            {"query_input_type": "query", "document_input_type": "passage"},
            "query_input_type, document_input_type",
        ),
    ],
)
def test_input_types_are_refused_outside_openai(source: str, types: dict[str, str], named: str) -> None:
    required = {"model": "m:v1"} if source == "ollama" else {"path": "/m", "revision": "1"}
    with pytest.raises(
        PinOptionError,
        match=rf"^{named} is sent only to OpenAI-compatible servers \(source openai\); a model from "
        rf"source {source} takes query_prefix/document_prefix instead$",
    ):
        PinOptions(source=source, **required, **types)  # type: ignore[arg-type]


def test_the_input_type_refusal_comes_before_a_missing_option() -> None:
    """As ``workbench models add`` always did: the wrong option is named before the absent one."""
    with pytest.raises(PinOptionError, match="sent only to OpenAI-compatible servers") as caught:
        PinOptions(source="ollama", query_input_type="query")
    assert caught.value.problem == "openai_only"


def test_blank_input_types_send_nothing_and_are_not_refused() -> None:
    options = PinOptions(source="ollama", model="m:v1", query_input_type="", document_input_type="")
    assert (options.query_input_type, options.document_input_type) == (None, None)
    asymmetric = PinOptions(
        source="openai", **OPENAI, query_input_type="query", document_input_type="passage"
    )
    assert (asymmetric.query_input_type, asymmetric.document_input_type) == ("query", "passage")


def test_describe_spells_the_options_as_each_client_names_them() -> None:
    with pytest.raises(PinOptionError) as missing:
        PinOptions(source="openai", model="e5")
    assert missing.value.describe(flag) == "--source openai needs --base-url"
    with pytest.raises(PinOptionError) as refused:
        PinOptions(source="ollama", model="m:v1", document_input_type="passage")
    labels = {"source": "Source", "document_input_type": "Document input type"}
    assert refused.value.describe(lambda o: labels.get(o, o)).startswith(
        "Document input type is sent only to OpenAI-compatible servers (Source openai); a model from Source ollama"
    )


def test_required_returns_the_values_in_order() -> None:
    assert PinOptions(source="openai", **OPENAI).required() == ("http://127.0.0.1:9/v1", "e5")
    assert PinOptions(source="ollama", model="m:v1").required() == ("m:v1",)
    assert PinOptions(source="path", path=Path("/m"), revision="r1").required() == ("/m", "r1")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"dimensions": 0}, r"dimensions must be a positive integer, got 0"),
        ({"canary_threshold": 1.5}, r"canary_threshold must be a cosine in \[0, 1\], got 1\.5"),
        ({"canary_threshold": -0.1}, r"canary_threshold must be a cosine in \[0, 1\], got -0\.1"),
    ],
)
def test_out_of_range_numbers_are_refused(given: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        PinOptions(source="openai", **OPENAI, **given)  # type: ignore[arg-type]


def test_an_unknown_source_lists_the_sources() -> None:
    assert pin_source("ollama") == "ollama"
    with pytest.raises(
        InvalidArgumentError, match=r"^unknown source 'hub'; choose one of path, openai, ollama$"
    ):
        pin_source("hub")
    with pytest.raises(InvalidArgumentError, match=r"^unknown source 'hub'"):
        PinOptions(source="hub", model="x")  # type: ignore[arg-type]


def test_options_are_frozen() -> None:
    options = PinOptions(source="openai", **OPENAI)
    with pytest.raises(AttributeError):
        options.model = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "openai", "--model", "m"], "--source openai needs --base-url"),
        (["--source", "path"], "--source path needs --path, --revision"),
        (
            [
                "--source",
                "ollama",
                "--model",
                "m:v1",
                "--query-input-type",
                "query",
                "--document-input-type",
                "p",
            ],
            "--query-input-type, --document-input-type is sent only to OpenAI-compatible servers "
            "(--source openai); a model from --source ollama takes --query-prefix/--document-prefix instead",
        ),
        (
            ["--source", "path", "--path", "/m", "--revision", "1", "--document-input-type", "passage"],
            "a model from --source path",
        ),
        (["--source", "hub"], "unknown source 'hub'; choose one of path, openai, ollama"),
    ],
)
def test_the_cli_names_flags_and_writes_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    target = tmp_path / "ws"
    result = runner.invoke(app, ["models", "add", "x", *args, "-w", str(target)])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("error: ") and message in result.output
    assert not target.exists()


def test_pin_model_takes_the_options_and_a_refusal_writes_nothing(empty_ws: Workspace) -> None:
    with pytest.raises(InvalidArgumentError, match=r"source path needs path, revision"):
        pin_model(empty_ws, "x", PinOptions(source="path"))
    assert empty_ws.table_names(include_internal=True) == []
    assert "x" not in empty_ws.config.models


def test_a_hand_edited_toml_with_input_types_for_a_local_model_is_still_refused(tmp_path: Path) -> None:
    """The pin's own validation, not ``PinOptions``, guards what is read back from workbench.toml."""
    config = tmp_path / "workbench.toml"
    config.write_text(
        "[models.m]\n"
        'name = "m"\nsource = "ollama"\nlocation = "http://127.0.0.1:11434"\nrevision = "v1"\n'
        f'fingerprint = "{"a" * 64}"\ndim = 8\ndigest = "{"b" * 64}"\nquery_input_type = "query"\n'
    )
    with pytest.raises(
        ConfigError, match=r"workbench\.toml: 'm' is a ollama model: input types are request fields"
    ):
        load_config(config)
