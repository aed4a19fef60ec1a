"""Client plugins (``stalwart.client.Plugin``): the base class and the chains that apply them.

Kept apart from ``client.py`` so the plugin machinery reads in one place. Temporal's shape:
``configure_client`` edits the client's configuration before the client is built, and
``connect_service_client`` wraps opening the connection, which here is opening the store.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Required, TypedDict

if TYPE_CHECKING:
    from ._store.base import Store
    from .converter import DataConverter

__all__ = ["ClientConfig", "ConnectConfig", "Plugin", "configure_client", "connect_store"]


@dataclass
class ConnectConfig:
    """What ``Client.connect`` opens: Stalwart's counterpart of ``temporalio.service``'s
    ``ConnectConfig``. A plugin's ``connect_service_client`` may replace ``target_url``
    before passing the config on."""

    target_url: str | None
    identity: str | None = None


class ClientConfig(TypedDict, total=False):
    """The client's configuration as plugins see it (``Client.config()``); temporalio's
    ``ClientConfig`` with ``store`` in place of ``service_client``.
    ``Client(**client.config())`` makes another client like it."""

    store: Required[Store]
    namespace: Required[str]
    data_converter: Required[DataConverter]
    plugins: Required[Sequence[Plugin]]
    interceptors: Required[Sequence[Any]]
    identity: Required[str | None]
    default_workflow_query_reject_condition: Any
    payload_limits: Any  # PayloadLimitsConfig


class Plugin(abc.ABC):
    """A client plugin: changes how a client is configured and how its store is opened.

    A plugin that is also a :class:`stalwart.worker.Plugin` applies to every worker built
    from the client too, so give it to the client only (else it runs twice).
    """

    def name(self) -> str:
        """The plugin's name; by default the class's module and qualified name."""
        return type(self).__module__ + "." + type(self).__qualname__

    @abc.abstractmethod
    def configure_client(self, config: ClientConfig) -> ClientConfig:
        """Return the client configuration to use (edit ``config`` or build a new one)."""

    @abc.abstractmethod
    async def connect_service_client(
        self, config: ConnectConfig, next: Callable[[ConnectConfig], Awaitable[Store]],
    ) -> Store:
        """Open the store: call ``next(config)`` (possibly with a changed config) and return
        what it returns, or a store of your own."""


def configure_client(plugins: Sequence[Plugin], config: ClientConfig) -> ClientConfig:
    for plugin in plugins:
        config = plugin.configure_client(config)
        if not isinstance(config, dict):
            raise TypeError(f"plugin {plugin.name()!r}: configure_client must return the "
                            f"client config dict, got {type(config).__name__}")
    return config


async def connect_store(plugins: Sequence[Plugin], config: ConnectConfig,
                        open_store: Callable[[ConnectConfig], Awaitable[Store]]) -> Store:
    """Open the store through every plugin's ``connect_service_client``; the first plugin
    is the outermost."""
    for plugin in plugins:
        if not isinstance(plugin, Plugin):
            raise TypeError(f"Client plugins=[...] entry {plugin!r} is not a "
                            "stalwart.client.Plugin")
    chain = open_store
    for plugin in reversed(plugins):
        chain = _link(plugin, chain)
    return await chain(config)


def _link(plugin: Plugin, next: Callable[[ConnectConfig], Awaitable[Store]]
          ) -> Callable[[ConnectConfig], Awaitable[Store]]:
    return lambda config: plugin.connect_service_client(config, next)
