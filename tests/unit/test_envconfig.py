"""``stalwart.envconfig``: client profiles from TOML and ``TEMPORAL_*`` variables, loaded as
temporalio loads them (the expected values below are what temporalio's loader returned for
the same file and variables), and ``Client.connect(**config)`` opening the store they name."""

from __future__ import annotations

from pathlib import Path

import pytest

from stalwart.client import Client
from stalwart.envconfig import ClientConfig, ClientConfigProfile, ConfigError

CONFIG = """
[profile.default]
address = "sqlite:///agents.db"
namespace = "prod"
[profile.default.grpc_meta]
my-header = "v1"

[profile.cloud]
address = "ns.acct.tmprl.cloud:7233"
namespace = "ns.acct"
api_key = "secret"
[profile.cloud.tls]
server_name = "x"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> str:
    path = tmp_path / "temporal.toml"
    path.write_text(CONFIG)
    return str(path)


def test_profiles_load_from_the_file(config_file: str) -> None:
    load = ClientConfig.load_client_connect_config
    assert load(config_file=config_file, override_env_vars={}) == {
        "target_host": "sqlite:///agents.db", "namespace": "prod",
        "rpc_metadata": {"my-header": "v1"}}
    assert load("cloud", config_file=config_file, override_env_vars={}) == {
        "target_host": "ns.acct.tmprl.cloud:7233", "namespace": "ns.acct", "api_key": "secret",
        "tls": True}
    every = ClientConfig.load(config_source=Path(config_file), override_env_vars={})
    assert sorted(every.profiles) == ["cloud", "default"]
    assert every.profiles["cloud"].tls is not None
    assert every.profiles["cloud"].tls.server_name == "x"
    assert ClientConfig.from_dict(every.to_dict()) == every


def test_the_environment_applies_over_the_file(config_file: str) -> None:
    env = {"TEMPORAL_ADDRESS": "localhost:7233", "TEMPORAL_NAMESPACE": "n2",
           "TEMPORAL_GRPC_META_SOME_KEY": "x", "TEMPORAL_GRPC_META_MY_HEADER": ""}
    assert ClientConfig.load_client_connect_config(
        config_file=config_file, override_env_vars=env) == {
        "target_host": "localhost:7233", "namespace": "n2", "rpc_metadata": {"some-key": "x"}}
    assert ClientConfig.load_client_connect_config(
        config_file=config_file, override_env_vars={
            "TEMPORAL_PROFILE": "cloud", "TEMPORAL_TLS": "false"})["tls"] is False
    assert ClientConfig.load_client_connect_config(
        config_file=config_file, disable_env=True)["namespace"] == "prod"
    assert ClientConfig.load_client_connect_config(
        disable_file=True, override_env_vars={"TEMPORAL_API_KEY": "k"}) == {
        "api_key": "k", "tls": True}
    # The default file is TEMPORAL_CONFIG_FILE's; a missing one loads nothing.
    assert ClientConfig.load_client_connect_config(
        override_env_vars={"TEMPORAL_CONFIG_FILE": config_file})["namespace"] == "prod"
    assert ClientConfig.load_client_connect_config(override_env_vars={
        "TEMPORAL_CONFIG_FILE": config_file + ".missing"}) == {}


def test_bad_configs_are_refused_with_what_is_wrong(config_file: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="profile 'nope' is not in the client config file"):
        ClientConfig.load_client_connect_config("nope", config_file=config_file,
                                                override_env_vars={})
    with pytest.raises(ConfigError, match="profile 'nope'"):
        ClientConfig.load_client_connect_config(
            config_file=config_file, override_env_vars={"TEMPORAL_PROFILE": "nope"})
    broken = tmp_path / "broken.toml"
    broken.write_text('[profile.default]\naddress = 1 2\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        ClientConfig.load_client_connect_config(config_file=str(broken), override_env_vars={})
    extra = tmp_path / "extra.toml"
    extra.write_text('[profile.default]\naddress = "a:1"\nfoo = 1\n')
    assert ClientConfig.load_client_connect_config(
        config_file=str(extra), override_env_vars={}) == {"target_host": "a:1"}
    with pytest.raises(ConfigError, match=r"profile\.default\.foo"):
        ClientConfig.load_client_connect_config(config_file=str(extra), override_env_vars={},
                                                config_file_strict=True)
    assert isinstance(ConfigError("x"), RuntimeError)


async def test_connect_opens_the_store_the_profile_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    named = f"sqlite:///{tmp_path / 'named.db'}"
    fallback = f"sqlite:///{tmp_path / 'fallback.db'}"
    monkeypatch.setenv("STALWART_URL", fallback)
    for address, expected in ((named, named), ("localhost:7233", fallback)):
        config = ClientConfigProfile.load(
            disable_file=True, override_env_vars={"TEMPORAL_ADDRESS": address,
                                                  "TEMPORAL_NAMESPACE": "default"}
        ).to_client_connect_config()
        client = await Client.connect(**config)
        try:
            assert client.store.url == expected
        finally:
            await client.close()
    # A server address given positionally, as temporalio's samples do, too.
    for address in ("localhost:7233", "http://localhost:7233", "dns:///temporal.internal:7233",
                    "[::1]:7233"):
        client = await Client.connect(address)
        try:
            assert client.store.url == fallback
        finally:
            await client.close()
