"""MCP servers as activities: every tool listing, tool call, prompt listing and prompt fetch
is an activity, so an agent that uses MCP tools survives a worker crash without repeating a
recorded call.

* Stateless: each operation connects to a fresh server (from the provider's factory), does
  the one thing, and disconnects.
* Stateful: a long-running session activity keeps one server connected for the workflow
  run and serves the operations as activities on a task queue of its own
  (``<name>-stateful@<run id>``); if that worker dies the state is gone, and the operations
  fail with ``ApplicationError(type="DedicatedWorkerFailure")``.

Activity names are Temporal's (``<name>-stateless-list-tools``, ``…-call-tool-v2``, …).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from agents.mcp import MCPServer
from mcp import GetPromptResult, ListPromptsResult
from mcp import Tool as MCPTool
from mcp.types import CallToolResult

from agents import AgentBase, RunContextWrapper

from ... import activity, workflow
from ...exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType
from ...exceptions import CancelledError as StalwartCancelledError
from ...worker import Worker

if TYPE_CHECKING:
    from ...client import Client

__all__ = ["StatefulMCPServerProvider", "StatelessMCPServerProvider", "is_durable_server",
           "stateful_reference", "stateless_reference"]

_DEFAULT_CONFIG: dict[str, Any] = {"start_to_close_timeout": timedelta(minutes=1)}


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json", by_alias=True, exclude_none=True)


# -- the worker side ---------------------------------------------------------------------------

class StatelessMCPServerProvider:
    """Serves an MCP server statelessly: each operation is an activity that connects a new
    server from ``server_factory`` and disconnects after it.

    Args:
        name: The name workflows use (``workflow.stateless_mcp_server(name)``).
        server_factory: Makes a new ``agents.mcp.MCPServer``; it may take one argument, the
            workflow's ``factory_argument``.
    """

    def __init__(self, name: str, server_factory: Callable[..., MCPServer]) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"StatelessMCPServerProvider needs a name, got {name!r}")
        self._factory = server_factory
        self._takes_argument = bool(inspect.signature(server_factory).parameters)
        self._name = name + "-stateless"

    @property
    def name(self) -> str:
        return self._name

    def _server(self, factory_argument: Any) -> MCPServer:
        return self._factory(factory_argument) if self._takes_argument else self._factory()

    async def _with_server(self, factory_argument: Any, use: Callable[[MCPServer], Any]) -> Any:
        server = self._server(factory_argument)
        try:
            await server.connect()  # type: ignore[no-untyped-call]
            return await use(server)
        finally:
            await server.cleanup()  # type: ignore[no-untyped-call]

    def _get_activities(self) -> Sequence[Callable[..., Any]]:
        name = self._name

        @activity.defn(name=name + "-list-tools")
        async def list_tools(args: dict[str, Any] | None = None) -> list[Any]:
            tools = await self._with_server((args or {}).get("factory_argument"),
                                            lambda s: s.list_tools())
            return [_dump(tool) for tool in tools]

        @activity.defn(name=name + "-call-tool-v2")
        async def call_tool(args: dict[str, Any]) -> Any:
            return _dump(await self._with_server(
                args.get("factory_argument"),
                lambda s: s.call_tool(args["tool_name"], args.get("arguments"),
                                      args.get("meta"))))

        @activity.defn(name=name + "-list-prompts")
        async def list_prompts(args: dict[str, Any] | None = None) -> Any:
            return _dump(await self._with_server((args or {}).get("factory_argument"),
                                                 lambda s: s.list_prompts()))

        @activity.defn(name=name + "-get-prompt-v2")
        async def get_prompt(args: dict[str, Any]) -> Any:
            return _dump(await self._with_server(
                args.get("factory_argument"),
                lambda s: s.get_prompt(args["name"], args.get("arguments"))))

        return [list_tools, call_tool, list_prompts, get_prompt]


class StatefulMCPServerProvider:
    """Serves an MCP server statefully: one connected server per workflow run, kept by a
    session activity that runs a dedicated worker for the operations.

    Args:
        name: The name workflows use (``workflow.stateful_mcp_server(name)``).
        server_factory: Makes a new ``agents.mcp.MCPServer`` from the workflow's
            ``factory_argument`` (``None`` if it gave none).
    """

    def __init__(self, name: str, server_factory: Callable[[Any], MCPServer]) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"StatefulMCPServerProvider needs a name, got {name!r}")
        self._factory = server_factory
        self._name = name + "-stateful"
        self._servers: dict[str, MCPServer] = {}
        self._client: Client | None = None

    @property
    def name(self) -> str:
        return self._name

    def _bind(self, client: Client) -> None:
        if self._client is None:
            self._client = client

    def _server_for(self, run_id: str) -> MCPServer:
        server = self._servers.get(f"{self._name}@{run_id}")
        if server is None:
            raise ApplicationError(f"MCP server {self._name!r} has no session for run "
                                   f"{run_id!r} on this worker", type="DedicatedWorkerFailure")
        return server

    def _operations(self) -> list[Callable[..., Any]]:
        name = self._name

        def server() -> MCPServer:
            return self._server_for(activity.info().workflow_run_id or "")

        @activity.defn(name=name + "-list-tools")
        async def list_tools() -> list[Any]:
            return [_dump(tool) for tool in await server().list_tools()]

        @activity.defn(name=name + "-call-tool-v2")
        async def call_tool(args: dict[str, Any]) -> Any:
            return _dump(await server().call_tool(args["tool_name"], args.get("arguments"),
                                                  args.get("meta")))

        @activity.defn(name=name + "-list-prompts")
        async def list_prompts() -> Any:
            return _dump(await server().list_prompts())

        @activity.defn(name=name + "-get-prompt-v2")
        async def get_prompt(args: dict[str, Any]) -> Any:
            return _dump(await server().get_prompt(args["name"], args.get("arguments")))

        return [list_tools, call_tool, list_prompts, get_prompt]

    def _get_activities(self) -> Sequence[Callable[..., Any]]:
        @activity.defn(name=self._name + "-server-session")
        async def session(args: dict[str, Any] | None = None) -> None:
            info = activity.info()
            key = f"{self._name}@{info.workflow_run_id}"
            if key in self._servers:
                raise ApplicationError(f"MCP server {self._name!r} already has a session for "
                                       "this run; use distinct names for several servers",
                                       type="DedicatedWorkerFailure", non_retryable=True)
            if self._client is None:
                raise ApplicationError("StatefulMCPServerProvider was not registered through "
                                       "OpenAIAgentsPlugin", non_retryable=True)
            server = self._factory((args or {}).get("factory_argument"))
            self._servers[key] = server
            try:
                await server.connect()  # type: ignore[no-untyped-call]
                worker = Worker(self._client, task_queue=key, activities=self._operations(),
                                max_concurrent_activities=1)
                async with worker:
                    # Heartbeats carry the workflow's cancel request (cleanup()) to us.
                    while not activity.is_cancelled():
                        await asyncio.sleep(0.5)
                        activity.heartbeat()
            finally:
                del self._servers[key]
                await server.cleanup()  # type: ignore[no-untyped-call]
            raise StalwartCancelledError("MCP server session closed")

        return [session]


# -- the workflow side -------------------------------------------------------------------------

def _to_tools(data: list[Any]) -> list[MCPTool]:
    return [MCPTool.model_validate(item) for item in data]


class _StatelessReference(MCPServer):
    def __init__(self, name: str, config: Mapping[str, Any] | None, cache_tools_list: bool,
                 factory_argument: Any) -> None:
        super().__init__()
        self._name = name + "-stateless"
        self._config = dict(config or _DEFAULT_CONFIG)
        self._cache = cache_tools_list
        self._tools: list[MCPTool] | None = None
        self._argument = factory_argument

    @property
    def name(self) -> str:
        return self._name

    async def connect(self) -> None:
        pass

    async def cleanup(self) -> None:
        pass

    async def _run(self, operation: str, args: dict[str, Any]) -> Any:
        return await workflow.execute_activity(f"{self._name}-{operation}", args,
                                               **self._config)

    async def list_tools(self, run_context: RunContextWrapper[Any] | None = None,
                         agent: AgentBase[Any] | None = None) -> list[MCPTool]:
        if self._tools is not None:
            return self._tools
        tools = _to_tools(await self._run("list-tools", {"factory_argument": self._argument}))
        if self._cache:
            self._tools = tools
        return tools

    async def call_tool(self, tool_name: str, arguments: dict[str, Any] | None,
                        meta: dict[str, Any] | None = None) -> CallToolResult:
        return CallToolResult.model_validate(await self._run("call-tool-v2", {
            "tool_name": tool_name, "arguments": arguments, "meta": meta,
            "factory_argument": self._argument}))

    async def list_prompts(self) -> ListPromptsResult:
        return ListPromptsResult.model_validate(
            await self._run("list-prompts", {"factory_argument": self._argument}))

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None
                         ) -> GetPromptResult:
        return GetPromptResult.model_validate(await self._run("get-prompt-v2", {
            "name": name, "arguments": arguments, "factory_argument": self._argument}))


def _dedicated_worker_failure(error: ActivityError) -> ApplicationError | None:
    cause = error.__cause__
    if isinstance(cause, TimeoutError) and cause.type in (TimeoutType.SCHEDULE_TO_START,
                                                          TimeoutType.HEARTBEAT):
        what = "schedule" if cause.type == TimeoutType.SCHEDULE_TO_START else "heartbeat"
        return ApplicationError(f"MCP stateful server worker failed to {what} the activity",
                                type="DedicatedWorkerFailure")
    return None


class _StatefulReference(MCPServer):
    def __init__(self, name: str, config: Mapping[str, Any] | None,
                 server_session_config: Mapping[str, Any] | None,
                 factory_argument: Any) -> None:
        super().__init__()
        self._name = name + "-stateful"
        self._config = dict(config or {"start_to_close_timeout": timedelta(minutes=1),
                                       "schedule_to_start_timeout": timedelta(seconds=30)})
        self._session_config = dict(server_session_config or
                                    {"start_to_close_timeout": timedelta(hours=1)})
        self._argument = factory_argument
        self._session: Any = None

    @property
    def name(self) -> str:
        return self._name

    async def connect(self) -> None:
        self._config["task_queue"] = f"{self._name}@{workflow.info().run_id}"
        self._session = workflow.start_activity(
            f"{self._name}-server-session", {"factory_argument": self._argument},
            **self._session_config)

    async def cleanup(self) -> None:
        if self._session is None:
            return
        self._session.cancel()
        try:
            await self._session
        except ActivityError as error:
            if not isinstance(error.__cause__, StalwartCancelledError):
                raise
        except asyncio.CancelledError:
            pass

    async def __aenter__(self) -> _StatefulReference:
        await self.connect()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.cleanup()

    async def _run(self, operation: str, *args: Any) -> Any:
        if self._session is None:
            raise ApplicationError(f"stateful MCP server {self._name!r} is not connected: use "
                                   "it as `async with workflow.stateful_mcp_server(...)`")
        try:
            return await workflow.execute_activity(f"{self._name}-{operation}", args=list(args),
                                                   **self._config)
        except ActivityError as error:
            failure = _dedicated_worker_failure(error)
            if failure is not None:
                raise failure from error
            raise

    async def list_tools(self, run_context: RunContextWrapper[Any] | None = None,
                         agent: AgentBase[Any] | None = None) -> list[MCPTool]:
        return _to_tools(await self._run("list-tools"))

    async def call_tool(self, tool_name: str, arguments: dict[str, Any] | None,
                        meta: dict[str, Any] | None = None) -> CallToolResult:
        return CallToolResult.model_validate(await self._run("call-tool-v2", {
            "tool_name": tool_name, "arguments": arguments, "meta": meta}))

    async def list_prompts(self) -> ListPromptsResult:
        return ListPromptsResult.model_validate(await self._run("list-prompts"))

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None
                         ) -> GetPromptResult:
        return GetPromptResult.model_validate(await self._run("get-prompt-v2", {
            "name": name, "arguments": arguments}))


def stateless_reference(name: str, config: Mapping[str, Any] | None, cache_tools_list: bool,
                        factory_argument: Any) -> MCPServer:
    return _StatelessReference(name, config, cache_tools_list, factory_argument)


def stateful_reference(name: str, config: Mapping[str, Any] | None,
                       server_session_config: Mapping[str, Any] | None,
                       factory_argument: Any) -> _StatefulReference:
    return _StatefulReference(name, config, server_session_config, factory_argument)


def is_durable_server(server: Any) -> bool:
    return isinstance(server, _StatelessReference | _StatefulReference)
