"""Client settings from a TOML file and ``TEMPORAL_*`` environment variables (mirrors
``temporalio.envconfig``).

Code written for temporalio connects with::

    config = ClientConfig.load_client_connect_config()
    client = await Client.connect(**config)

and runs unchanged. The profile's ``address`` (``TEMPORAL_ADDRESS``) becomes
``Client.connect``'s ``target_host``: a store URL there (``sqlite:///agents.db``,
``postgresql://...``) opens that store; a Temporal server address (``localhost:7233``) names
none, so ``STALWART_URL`` or ``./stalwart.db`` is used. TLS, API key and gRPC metadata are read
and handed over as temporalio does, and have no effect: there is no server connection.

The file is ``TEMPORAL_CONFIG_FILE``, else ``temporalio/temporal.toml`` in the user's config
directory (``$XDG_CONFIG_HOME``, else ``~/.config``); profiles are ``[profile.<name>]``
tables, the profile ``TEMPORAL_PROFILE`` or ``"default"``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypedDict, cast

__all__ = [
    "ClientConfig",
    "ClientConfigProfile",
    "ClientConfigProfileDict",
    "ClientConfigTLS",
    "ClientConfigTLSDict",
    "ClientConnectConfig",
    "DataSource",
]

DataSource = Path | str | bytes
"""A file's path, or its contents (``str`` or ``bytes``)."""

DEFAULT_PROFILE = "default"


class ConfigError(RuntimeError):
    """A client config that cannot be loaded (temporalio raises a ``RuntimeError`` of this
    name from its native layer)."""


_PROFILE_KEYS = {"address", "namespace", "api_key", "tls", "grpc_meta", "codec"}
_TLS_KEYS = {"disabled", "client_cert_path", "client_cert_data", "client_key_path",
             "client_key_data", "server_ca_cert_path", "server_ca_cert_data", "server_name",
             "disable_host_verification"}


class ClientConfigTLSDict(TypedDict, total=False):
    disabled: bool
    server_name: str
    disable_host_verification: bool
    server_ca_cert: Mapping[str, str]
    client_cert: Mapping[str, str]
    client_key: Mapping[str, str]


class ClientConfigProfileDict(TypedDict, total=False):
    address: str
    namespace: str
    api_key: str
    tls: ClientConfigTLSDict
    grpc_meta: Mapping[str, str]


class ClientConnectConfig(TypedDict, total=False):
    """The keyword arguments of ``Client.connect`` a profile sets."""

    target_host: str
    namespace: str
    api_key: str
    tls: bool
    rpc_metadata: Mapping[str, str]


def _source_dict(source: DataSource | None) -> dict[str, str] | None:
    if source is None:
        return None
    if isinstance(source, Path):
        return {"path": str(source)}
    if isinstance(source, bytes):
        return {"data": source.decode()}
    return {"data": source}


def _source_of(d: Mapping[str, str] | None) -> DataSource | None:
    if not d:
        return None
    if "path" in d:
        return Path(d["path"])
    return d.get("data")


@dataclass(frozen=True)
class ClientConfigTLS:
    """A profile's TLS settings (kept and handed over; Stalwart opens no TLS connection)."""

    disabled: bool = False
    server_name: str | None = None
    disable_host_verification: bool = False
    server_root_ca_cert: DataSource | None = None
    client_cert: DataSource | None = None
    client_private_key: DataSource | None = None

    def to_dict(self) -> ClientConfigTLSDict:
        d: ClientConfigTLSDict = {}
        if self.disabled:
            d["disabled"] = True
        if self.server_name is not None:
            d["server_name"] = self.server_name
        if self.disable_host_verification:
            d["disable_host_verification"] = True
        for key, source in (("server_ca_cert", self.server_root_ca_cert),
                            ("client_cert", self.client_cert),
                            ("client_key", self.client_private_key)):
            as_dict = _source_dict(source)
            if as_dict is not None:
                d[key] = as_dict  # type: ignore[literal-required]
        return d

    def to_connect_tls_config(self) -> bool:
        """Whether TLS is on (temporalio returns a ``TLSConfig``; there is none here)."""
        return not self.disabled

    @classmethod
    def from_dict(cls, d: ClientConfigTLSDict | None) -> Self | None:
        if d is None:
            return None
        return cls(disabled=bool(d.get("disabled", False)), server_name=d.get("server_name"),
                   disable_host_verification=bool(d.get("disable_host_verification", False)),
                   server_root_ca_cert=_source_of(d.get("server_ca_cert")),
                   client_cert=_source_of(d.get("client_cert")),
                   client_private_key=_source_of(d.get("client_key")))


@dataclass(frozen=True)
class ClientConfigProfile:
    """One profile: where to connect and as what."""

    address: str | None = None
    namespace: str | None = None
    api_key: str | None = None
    tls: ClientConfigTLS | None = None
    grpc_meta: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: ClientConfigProfileDict) -> Self:
        return cls(address=d.get("address"), namespace=d.get("namespace"),
                   api_key=d.get("api_key"), tls=ClientConfigTLS.from_dict(d.get("tls")),
                   grpc_meta=d.get("grpc_meta") or {})

    def to_dict(self) -> ClientConfigProfileDict:
        d: ClientConfigProfileDict = {}
        if self.address is not None:
            d["address"] = self.address
        if self.namespace is not None:
            d["namespace"] = self.namespace
        if self.api_key is not None:
            d["api_key"] = self.api_key
        if self.tls is not None and (tls := self.tls.to_dict()):
            d["tls"] = tls
        if self.grpc_meta:
            d["grpc_meta"] = self.grpc_meta
        return d

    def to_client_connect_config(self) -> ClientConnectConfig:
        config: dict[str, Any] = {}
        if self.address:
            config["target_host"] = self.address
        if self.namespace is not None:
            config["namespace"] = self.namespace
        if self.api_key is not None:
            config["api_key"] = self.api_key
            config["tls"] = True
        if self.tls is not None:
            config["tls"] = self.tls.to_connect_tls_config()
        if self.grpc_meta:
            config["rpc_metadata"] = self.grpc_meta
        return cast(ClientConnectConfig, config)

    @staticmethod
    def load(profile: str | None = None, *, config_source: DataSource | None = None,
             disable_file: bool = False, disable_env: bool = False,
             config_file_strict: bool = False,
             override_env_vars: Mapping[str, str] | None = None) -> ClientConfigProfile:
        """One profile from the file (or ``config_source``), the environment's
        ``TEMPORAL_*`` variables applied over it.

        Raises:
            ConfigError: a profile asked for by name is not in the file, or the file is not
                valid TOML, or (``config_file_strict``) has keys it should not. A missing
                file is no error: there is nothing to load, as in temporalio.
        """
        env = {} if disable_env else dict(
            os.environ if override_env_vars is None else override_env_vars)
        name = profile or env.get("TEMPORAL_PROFILE") or DEFAULT_PROFILE
        profiles: Mapping[str, Any] = {}
        if config_source is not None or not disable_file:
            profiles = _read_profiles(config_source, env, config_file_strict)
        if name not in profiles and (profile or env.get("TEMPORAL_PROFILE")) and \
                name != DEFAULT_PROFILE:
            raise ConfigError(f"profile {name!r} is not in the client config file (it has "
                             f"{sorted(profiles) or 'no profiles'}); add [profile.{name}] or "
                             "ask for another profile")
        loaded = ClientConfigProfile.from_dict(
            cast(ClientConfigProfileDict, dict(profiles.get(name) or {})))
        return _apply_env(loaded, env) if env else loaded


@dataclass
class ClientConfig:
    """Every profile of a client config file (environment overrides not applied)."""

    profiles: Mapping[str, ClientConfigProfile]

    def to_dict(self) -> Mapping[str, ClientConfigProfileDict]:
        return {name: profile.to_dict() for name, profile in self.profiles.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Mapping[str, Any]]) -> Self:
        return cls(profiles={name: ClientConfigProfile.from_dict(
            cast(ClientConfigProfileDict, profile)) for name, profile in d.items()})

    @staticmethod
    def load(*, config_source: DataSource | None = None, config_file_strict: bool = False,
             override_env_vars: Mapping[str, str] | None = None) -> ClientConfig:
        env = dict(os.environ if override_env_vars is None else override_env_vars)
        return ClientConfig.from_dict(_read_profiles(config_source, env, config_file_strict))

    @staticmethod
    def load_client_connect_config(profile: str | None = None, *,
                                   config_file: str | None = None,
                                   disable_file: bool = False, disable_env: bool = False,
                                   config_file_strict: bool = False,
                                   override_env_vars: Mapping[str, str] | None = None
                                   ) -> ClientConnectConfig:
        """``Client.connect``'s keyword arguments from one profile, the environment applied."""
        source = Path(config_file) if config_file and not disable_file else None
        return ClientConfigProfile.load(
            profile, config_source=source, disable_file=disable_file, disable_env=disable_env,
            config_file_strict=config_file_strict, override_env_vars=override_env_vars,
        ).to_client_connect_config()


def default_config_file(env: Mapping[str, str]) -> Path:
    if env.get("TEMPORAL_CONFIG_FILE"):
        return Path(env["TEMPORAL_CONFIG_FILE"])
    base = env.get("XDG_CONFIG_HOME") or os.environ.get("XDG_CONFIG_HOME")
    root = Path(base) if base else Path.home() / ".config"
    return root / "temporalio" / "temporal.toml"


def _read_profiles(source: DataSource | None, env: Mapping[str, str],
                   strict: bool) -> Mapping[str, Any]:
    if isinstance(source, str | bytes):
        text, where = (source.decode() if isinstance(source, bytes) else source), "the data"
    else:
        path = source if source is not None else default_config_file(env)
        if not path.exists():
            return {}
        text, where = path.read_text(), repr(str(path))
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"client config {where} is not valid TOML: {error}") from None
    profiles = document.get("profile", {})
    if strict:
        unknown = sorted(set(document) - {"profile"})
        for name, profile in profiles.items():
            unknown += [f"profile.{name}.{k}" for k in sorted(set(profile) - _PROFILE_KEYS)]
            unknown += [f"profile.{name}.tls.{k}" for k in
                        sorted(set(profile.get("tls") or {}) - _TLS_KEYS)]
        if unknown:
            raise ConfigError(f"client config {where} has keys it should not: {unknown}; "
                              f"a profile takes {sorted(_PROFILE_KEYS)}")
    return {name: _profile_dict(profile) for name, profile in profiles.items()}


def _profile_dict(profile: Mapping[str, Any]) -> dict[str, Any]:
    d = {k: profile[k] for k in ("address", "namespace", "api_key", "grpc_meta")
         if k in profile}
    tls = profile.get("tls")
    if isinstance(tls, Mapping):
        d["tls"] = _tls_dict(tls)
    elif tls is not None:
        d["tls"] = {"disabled": not tls}
    return d


def _tls_dict(tls: Mapping[str, Any]) -> dict[str, Any]:
    d: dict[str, Any] = {k: tls[k] for k in ("disabled", "server_name",
                                            "disable_host_verification") if k in tls}
    for key, name in (("server_ca_cert", "server_ca_cert"), ("client_cert", "client_cert"),
                      ("client_key", "client_key")):
        if f"{name}_path" in tls:
            d[key] = {"path": tls[f"{name}_path"]}
        elif f"{name}_data" in tls:
            d[key] = {"data": tls[f"{name}_data"]}
    return d


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "t", "yes", "y", "on")


def _apply_env(profile: ClientConfigProfile, env: Mapping[str, str]) -> ClientConfigProfile:
    tls: dict[str, Any] | None = dict(profile.tls.to_dict()) if profile.tls is not None \
        else None
    tls_env = {key: value for key, value in env.items() if key.startswith("TEMPORAL_TLS")}
    if tls_env:
        tls = dict(tls or {})
        if "TEMPORAL_TLS" in tls_env:
            tls["disabled"] = not _truthy(tls_env["TEMPORAL_TLS"])
        if "TEMPORAL_TLS_SERVER_NAME" in tls_env:
            tls["server_name"] = tls_env["TEMPORAL_TLS_SERVER_NAME"]
        if "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION" in tls_env:
            tls["disable_host_verification"] = _truthy(
                tls_env["TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"])
        for key, name in (("server_ca_cert", "SERVER_CA_CERT"), ("client_cert", "CLIENT_CERT"),
                          ("client_key", "CLIENT_KEY")):
            if f"TEMPORAL_TLS_{name}_PATH" in tls_env:
                tls[key] = {"path": tls_env[f"TEMPORAL_TLS_{name}_PATH"]}
            elif f"TEMPORAL_TLS_{name}_DATA" in tls_env:
                tls[key] = {"data": tls_env[f"TEMPORAL_TLS_{name}_DATA"]}
    meta = dict(profile.grpc_meta)
    for key, value in env.items():
        if key.startswith("TEMPORAL_GRPC_META_"):
            name = key.removeprefix("TEMPORAL_GRPC_META_").lower().replace("_", "-")
            if value:
                meta[name] = value
            else:
                meta.pop(name, None)
    return ClientConfigProfile(
        address=env.get("TEMPORAL_ADDRESS", profile.address),
        namespace=env.get("TEMPORAL_NAMESPACE", profile.namespace),
        api_key=env.get("TEMPORAL_API_KEY", profile.api_key),
        tls=ClientConfigTLS.from_dict(cast(ClientConfigTLSDict, tls)) if tls is not None
        else None,
        grpc_meta=meta)
