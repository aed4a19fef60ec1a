"""A plugin built from a few settings (mirrors ``temporalio.plugin``).

:class:`SimplePlugin` is both a client plugin and a worker plugin: give it to
``Client.connect(plugins=[...])`` and every worker built from that client picks it up, or to
one ``Worker``/``Replayer`` only. Each setting is a value to use (lists are appended to what is
there) or a function from the current value to the new one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from . import client as _client
from . import worker as _worker
from .client import ClientConfig, ConnectConfig
from .converter import DataConverter
from .worker import ReplayerConfig, WorkerConfig

if TYPE_CHECKING:
    from ._client_visibility import WorkflowHistory
    from ._store.base import Store
    from .worker import Replayer, Worker, WorkflowReplayResult

__all__ = ["PluginParameter", "SimplePlugin"]

T = TypeVar("T")

PluginParameter: TypeAlias = None | T | Callable[[T | None], T]


class SimplePlugin(_client.Plugin, _worker.Plugin):
    """A plugin that sets a converter, adds interceptors, activities and workflows, and wraps
    the worker's run in a context.

    Args:
        name: The plugin's name.
        data_converter: The client's (and replayer's) data converter, or a function of it.
        interceptors: Appended: client interceptors to the client, worker interceptors to
            workers and replayers (one that is both is used once per worker).
        activities: Appended to each worker's activities (or a function of them).
        nexus_service_handlers: Accepted for Temporal compatibility; Stalwart has no Nexus,
            so a non-empty value is an error when a worker is built.
        workflows: Appended to each worker's and replayer's workflows.
        workflow_runner: Kept in the config for plugins that read it; Stalwart runs every
            workflow on its own deterministic loop and has no runner to replace.
        workflow_failure_exception_types: Appended to the worker's and replayer's.
        run_context: A function returning an async context manager that wraps each worker's
            (and replayer's) run.
    """

    def __init__(
        self, name: str, *,
        data_converter: PluginParameter[DataConverter] = None,
        interceptors: Sequence[Any] | None = None,
        activities: PluginParameter[Sequence[Callable[..., Any]]] = None,
        nexus_service_handlers: PluginParameter[Sequence[Any]] = None,
        workflows: PluginParameter[Sequence[type]] = None,
        workflow_runner: PluginParameter[Any] = None,
        workflow_failure_exception_types: PluginParameter[Sequence[type[BaseException]]] = None,
        run_context: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"SimplePlugin needs a name, got {name!r}")
        self._name = name
        self.data_converter = data_converter
        self.interceptors = interceptors
        self.activities = activities
        self.nexus_service_handlers = nexus_service_handlers
        self.workflows = workflows
        self.workflow_runner = workflow_runner
        self.workflow_failure_exception_types = workflow_failure_exception_types
        self.run_context = run_context

    def name(self) -> str:
        return self._name

    # -- client ------------------------------------------------------------------------------
    def configure_client(self, config: ClientConfig) -> ClientConfig:
        converter = _resolve(config.get("data_converter"), self.data_converter)
        if converter is not None:
            config["data_converter"] = converter
        interceptors = _append(config.get("interceptors"), self.interceptors)
        if interceptors is not None:
            config["interceptors"] = [i for i in interceptors
                                      if isinstance(i, _client.Interceptor)]
        return config

    async def connect_service_client(
        self, config: ConnectConfig, next: Callable[[ConnectConfig], Awaitable[Store]],
    ) -> Store:
        return await next(config)

    # -- worker ------------------------------------------------------------------------------
    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        activities = _append(config.get("activities"), self.activities)
        if activities is not None:
            config["activities"] = activities
        handlers = _append(None, self.nexus_service_handlers)
        if handlers:
            raise ValueError(f"plugin {self._name!r} registers Nexus service handlers; "
                             "Stalwart has no Nexus (use activities or child workflows)")
        workflows = _append(config.get("workflows"), self.workflows)
        if workflows is not None:
            config["workflows"] = workflows
        runner = _resolve(config.get("workflow_runner"), self.workflow_runner)
        if runner is not None:
            config["workflow_runner"] = runner
        if self.interceptors is not None:
            # Interceptors that are also client interceptors already reach the worker through
            # the client; adding them again would run them twice.
            client = config.get("client")
            from_client = client.config(active_config=True)["interceptors"] if client else []
            own = [i for i in self.interceptors if isinstance(i, _worker.Interceptor)
                   and i not in from_client]
            config["interceptors"] = [*config.get("interceptors", ()), *own]
        failure_types = _append(config.get("workflow_failure_exception_types"),
                                self.workflow_failure_exception_types)
        if failure_types is not None:
            config["workflow_failure_exception_types"] = failure_types
        return config

    async def run_worker(self, worker: Worker,
                         next: Callable[[Worker], Awaitable[None]]) -> None:
        if self.run_context is None:
            await next(worker)
            return
        async with self.run_context():
            await next(worker)

    # -- replayer ----------------------------------------------------------------------------
    def configure_replayer(self, config: ReplayerConfig) -> ReplayerConfig:
        converter = _resolve(config.get("data_converter"), self.data_converter)
        if converter is not None:
            config["data_converter"] = converter
        workflows = _append(config.get("workflows"), self.workflows)
        if workflows is not None:
            config["workflows"] = workflows
        runner = _resolve(config.get("workflow_runner"), self.workflow_runner)
        if runner is not None:
            config["workflow_runner"] = runner
        interceptors = _append(config.get("interceptors"), self.interceptors)
        if interceptors is not None:
            config["interceptors"] = [i for i in interceptors
                                      if isinstance(i, _worker.Interceptor)]
        failure_types = _append(config.get("workflow_failure_exception_types"),
                                self.workflow_failure_exception_types)
        if failure_types is not None:
            config["workflow_failure_exception_types"] = failure_types
        return config

    @asynccontextmanager
    async def run_replayer(
        self, replayer: Replayer, histories: AsyncIterator[WorkflowHistory],
        next: Callable[[Replayer, AsyncIterator[WorkflowHistory]],
                       AbstractAsyncContextManager[AsyncIterator[WorkflowReplayResult]]],
    ) -> AsyncIterator[AsyncIterator[WorkflowReplayResult]]:
        if self.run_context is None:
            async with next(replayer, histories) as results:
                yield results
            return
        async with self.run_context(), next(replayer, histories) as results:
            yield results


def _resolve(existing: T | None, parameter: PluginParameter[T]) -> T | None:
    if parameter is None:
        return existing
    if callable(parameter):
        return parameter(existing)
    return parameter


def _append(existing: Sequence[T] | None,
            parameter: PluginParameter[Sequence[T]]) -> Sequence[T] | None:
    if parameter is None:
        return existing
    if callable(parameter):
        return parameter(existing)
    return [*(existing or ()), *parameter]
