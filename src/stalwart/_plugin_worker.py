"""Worker plugins (``stalwart.worker.Plugin``): the base class and the chains that apply them
to a ``Worker`` and a ``Replayer`` (Temporal's shape: configure, then wrap the run)."""

from __future__ import annotations

import abc
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client_visibility import WorkflowHistory
    from ._engine.replayer import Replayer, WorkflowReplayResult
    from ._worker_options import ReplayerConfig
    from .client import Client
    from .worker import Worker, WorkerConfig

__all__ = ["Plugin", "configure_replayer", "configure_worker", "replay_through",
           "run_through", "worker_plugins"]


class Plugin(abc.ABC):
    """A worker plugin: changes a worker's (or replayer's) configuration and wraps its run."""

    def name(self) -> str:
        """The plugin's name; by default the class's module and qualified name."""
        return type(self).__module__ + "." + type(self).__qualname__

    @abc.abstractmethod
    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        """Return the worker configuration to use."""

    @abc.abstractmethod
    async def run_worker(self, worker: Worker,
                         next: Callable[[Worker], Awaitable[None]]) -> None:
        """Run the worker: ``await next(worker)``, with whatever set-up and tear-down around
        it the plugin needs."""

    @abc.abstractmethod
    def configure_replayer(self, config: ReplayerConfig) -> ReplayerConfig:
        """Return the replayer configuration to use (it should match the worker's)."""

    @abc.abstractmethod
    def run_replayer(
        self, replayer: Replayer, histories: AsyncIterator[WorkflowHistory],
        next: Callable[[Replayer, AsyncIterator[WorkflowHistory]],
                       AbstractAsyncContextManager[AsyncIterator[WorkflowReplayResult]]],
    ) -> AbstractAsyncContextManager[AsyncIterator[WorkflowReplayResult]]:
        """Wrap a replay: return ``next(replayer, histories)`` inside the plugin's context."""


def worker_plugins(client: Client, plugins: Sequence[Any]) -> list[Plugin]:
    """The client's plugins that are worker plugins, then the worker's own (Temporal's order)."""
    for plugin in plugins:
        if not isinstance(plugin, Plugin):
            raise TypeError(f"Worker plugins=[...] entry {plugin!r} is not a "
                            "stalwart.worker.Plugin")
    from_client = [p for p in client.config().get("plugins", ()) if isinstance(p, Plugin)]
    own_types = {type(p) for p in plugins}
    for plugin in from_client:
        if type(plugin) in own_types:
            warnings.warn(f"the plugin type {type(plugin).__name__} is given to both the client "
                          "and the worker, so it is applied twice; give it to the client only",
                          stacklevel=3)
    return [*from_client, *plugins]


def configure_worker(plugins: Sequence[Plugin], config: WorkerConfig) -> WorkerConfig:
    for plugin in plugins:
        config = plugin.configure_worker(config)
        if not isinstance(config, dict):
            raise TypeError(f"plugin {plugin.name()!r}: configure_worker must return the "
                            f"worker config dict, got {type(config).__name__}")
    return config


def configure_replayer(plugins: Sequence[Plugin], config: ReplayerConfig) -> ReplayerConfig:
    for plugin in plugins:
        if not isinstance(plugin, Plugin):
            raise TypeError(f"Replayer plugins=[...] entry {plugin!r} is not a "
                            "stalwart.worker.Plugin")
        config = plugin.configure_replayer(config)
        if not isinstance(config, dict):
            raise TypeError(f"plugin {plugin.name()!r}: configure_replayer must return the "
                            f"replayer config dict, got {type(config).__name__}")
    return config


async def run_through(plugins: Sequence[Plugin], worker: Worker,
                      run: Callable[[Worker], Awaitable[None]]) -> None:
    """Run ``run(worker)`` inside every plugin's ``run_worker``; the first is outermost."""
    chain = run
    for plugin in reversed(plugins):
        chain = _link_worker(plugin, chain)
    await chain(worker)


def _link_worker(plugin: Plugin, next: Callable[[Worker], Awaitable[None]]
                 ) -> Callable[[Worker], Awaitable[None]]:
    return lambda worker: plugin.run_worker(worker, next)


ReplayNext = Callable[["Replayer", AsyncIterator["WorkflowHistory"]],
                      AbstractAsyncContextManager[AsyncIterator["WorkflowReplayResult"]]]


def replay_through(plugins: Sequence[Plugin], replayer: Replayer,
                   histories: AsyncIterator[WorkflowHistory], replay: ReplayNext,
                   ) -> AbstractAsyncContextManager[AsyncIterator[WorkflowReplayResult]]:
    chain = replay
    for plugin in reversed(plugins):
        chain = _link_replayer(plugin, chain)
    return chain(replayer, histories)


def _link_replayer(plugin: Plugin, next: ReplayNext) -> ReplayNext:
    return lambda replayer, histories: plugin.run_replayer(replayer, histories, next)
