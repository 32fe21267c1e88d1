"""Workspace configuration: aliases, refusals at load, no in-place re-pinning."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import ConfigError, ModelNotFoundError, UnpinnedModelError
from workbench.models.catalog import CATALOG
from workbench.store.config import WorkspaceConfig, load_config, save_config

GOOD = """
[models.mine]
name = "acme/encoder"
source = "path"
location = "/models/encoder"
revision = "2024-05-01"
fingerprint = "{fp}"
dim = 384
"""


def test_round_trip_and_catalog_aliases(tmp_path: Path) -> None:
    path = tmp_path / "workbench.toml"
    path.write_text(GOOD.format(fp="b" * 64))
    config = load_config(path)
    assert config.model("mine").revision == "2024-05-01"
    assert config.model("minilm-l6") == CATALOG["minilm-l6"]
    save_config(config, tmp_path / "copy.toml")
    assert load_config(tmp_path / "copy.toml") == config


def test_the_default_table_survives_a_new_pin(tmp_path: Path) -> None:
    path = tmp_path / "workbench.toml"
    path.write_text('default_table = "docs"\n' + GOOD.format(fp="b" * 64))
    config = load_config(path).with_model("other", CATALOG["minilm-l3"])
    save_config(config, path)
    assert load_config(path).default_table == "docs" and "other" in load_config(path).models


def test_latest_in_the_config_is_refused_with_the_file_named(tmp_path: Path) -> None:
    path = tmp_path / "workbench.toml"
    path.write_text(GOOD.format(fp="b" * 64).replace("2024-05-01", "latest"))
    with pytest.raises(UnpinnedModelError, match=r"workbench\.toml.*'latest' is not a pin"):
        load_config(path)


def test_malformed_toml_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "workbench.toml"
    path.write_text("[models.mine\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    path.write_text(GOOD.format(fp="b" * 64) + "colour = 'blue'\n")
    with pytest.raises(ConfigError, match="colour"):
        load_config(path)


def test_unknown_alias_lists_the_known_ones() -> None:
    with pytest.raises(ModelNotFoundError, match="known aliases: minilm-l3, minilm-l6"):
        WorkspaceConfig().model("gpt-embed")


def test_an_alias_is_never_re_pinned_in_place() -> None:
    config = WorkspaceConfig().with_model("old", CATALOG["minilm-l3"])
    assert config.with_model("old", CATALOG["minilm-l3"]) == config
    with pytest.raises(ConfigError, match="never changed in place"):
        config.with_model("old", CATALOG["minilm-l6"])


SECRET = "sk-storage-9f8e7d6c5b4a"


@pytest.mark.parametrize(
    "storage",
    [
        f'secret_access_key = "{SECRET}"',  # the secret itself where only a variable name belongs
        f'secret_access_key_env = "{SECRET}/x"',
        f'access_key_id_env = "{SECRET}"\nregion = 5',
        f'endpoint = "https://key:{SECRET}@minio.internal:9000"',
        f'allow_http = "{SECRET}"',
    ],
)
def test_a_storage_secret_is_never_echoed_and_the_error_says_storage(tmp_path: Path, storage: str) -> None:
    path = tmp_path / "workbench.toml"
    path.write_text(f"[storage]\n{storage}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert SECRET not in message and "input_value" not in message, message
    assert "[storage]" in message and "model pin" not in message, message


def test_a_secret_in_a_model_pin_is_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "workbench.toml"
    path.write_text(GOOD.format(fp="b" * 64) + f'api_key = "{SECRET}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert SECRET not in str(info.value) and "[models.mine]" in str(info.value), str(info.value)
