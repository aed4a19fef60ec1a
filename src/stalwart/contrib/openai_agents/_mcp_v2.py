"""MCP servers registered on the plugin by name (``OpenAIAgentsPlugin(mcp_servers={...})``) and
used from workflows through ``workflow.temporal_mcp_server(name)``: Temporal's current MCP
path (the providers in ``_mcp`` are its older one).

Every operation is an activity named ``temporalio.mcp.<name>.<operation>`` (Temporal's names).
On the worker, a server from a parameterless factory is connected once and reused by later
activities while it is in use or idle for less than the idle timeout, but only when it speaks
a protocol version without session state (so reuse cannot leak one workflow's session into
another); a server made for a workflow's ``factory_argument`` serves one activity.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from agents.mcp import MCPServer
from agents.mcp.util import ToolFilterContext
from mcp import MCPError
from mcp.types import (
    CONNECTION_CLOSED,
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    PARSE_ERROR,
    REQUEST_TIMEOUT,
    UNSUPPORTED_PROTOCOL_VERSION,
    URL_ELICITATION_REQUIRED,
    CallToolResult,
    GetPromptResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    ReadResourceResult,
)
from mcp.types import Tool as MCPTool
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from agents import AgentBase, RunContextWrapper

from ... import activity, workflow
from ...exceptions import ApplicationError

__all__ = ["MCPServerPool", "temporal_mcp_server"]

logger = logging.getLogger(__name__)

# JSON-RPC errors that the same request cannot get past on a retry.
_NON_RETRYABLE_CODES = {PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS,
                        HEADER_MISMATCH, MISSING_REQUIRED_CLIENT_CAPABILITY,
                        UNSUPPORTED_PROTOCOL_VERSION, URL_ELICITATION_REQUIRED}
# Errors after which a connection is not used again; any other MCPError is an answer over a
# connection that works.
_BROKEN_CONNECTION_CODES = {CONNECTION_CLOSED, REQUEST_TIMEOUT, UNSUPPORTED_PROTOCOL_VERSION}


def activity_name(server: str, operation: str) -> str:
    return f"temporalio.mcp.{server}.{operation}"


def _takes_argument(name: str, factory: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return False
    kinds = inspect.Parameter
    required = [p for p in parameters if p.default is kinds.empty
                and p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)]
    if len(required) > 1 or (required and required[0].kind is kinds.KEYWORD_ONLY):
        raise TypeError(f"MCP server factory {name!r} must take no parameter or one "
                        "positional parameter (the workflow's factory_argument)")
    return any(p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD,
                          kinds.VAR_POSITIONAL) for p in parameters)


class _Connection:
    """One connected server, owned by a task of its own: the MCP transports must be entered
    and left in the same task, and activities come and go in tasks of their own."""

    def __init__(self, server: MCPServer) -> None:
        loop = asyncio.get_running_loop()
        self.server = server
        self.in_flight = 0
        self.retired = False
        self.idle_timer: asyncio.TimerHandle | None = None
        self._ready: asyncio.Future[None] = loop.create_future()
        self._stop = asyncio.Event()
        self._owner = loop.create_task(self._own())

    async def _own(self) -> None:
        try:
            await self.server.connect()  # type: ignore[no-untyped-call]
            self._ready.set_result(None)
            await self._stop.wait()
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
        finally:
            try:
                await self.server.cleanup()  # type: ignore[no-untyped-call]
            except Exception as error:
                logger.warning("closing MCP server %s failed: %s", self.server.name, error)

    async def ready(self) -> None:
        await asyncio.shield(self._ready)

    @property
    def reusable(self) -> bool:
        session = getattr(self.server, "session", None)
        return getattr(session, "protocol_version", None) in MODERN_PROTOCOL_VERSIONS

    async def close(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        self._stop.set()
        await asyncio.gather(self._owner, return_exceptions=True)


class MCPServerPool:
    """The worker side: factories by name, their reusable connections, their activities."""

    def __init__(self, factories: Mapping[str, Callable[..., MCPServer]],
                 idle_timeout: timedelta | None) -> None:
        if idle_timeout is not None and idle_timeout < timedelta(0):
            raise ValueError(f"mcp_connection_idle_timeout must not be negative, got "
                             f"{idle_timeout!r}")
        self._factories = dict(factories)
        self._takes_argument = {name: _takes_argument(name, factory)
                                for name, factory in self._factories.items()}
        self._idle = idle_timeout
        self._connections: dict[tuple[asyncio.AbstractEventLoop, str], _Connection] = {}
        self._locks: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._users: dict[asyncio.AbstractEventLoop, int] = {}

    def _make(self, name: str, argument: Any) -> MCPServer:
        factory = self._factories[name]
        if self._takes_argument[name]:
            return factory(argument)
        if argument is not None:
            raise ApplicationError(f"MCP server factory {name!r} takes no parameter, so it "
                                   "cannot receive a factory_argument", non_retryable=True)
        return factory()

    @asynccontextmanager
    async def server(self, name: str, argument: Any) -> AsyncIterator[MCPServer]:
        if argument is not None:
            single = _Connection(self._make(name, argument))
            try:
                await single.ready()
                yield single.server
            finally:
                await single.close()
            return
        key = (asyncio.get_running_loop(), name)
        async with self._locks.setdefault(key, asyncio.Lock()):
            connection = self._connections.get(key)
            if connection is None or connection.retired:
                connection = _Connection(self._make(name, None))
                try:
                    await connection.ready()
                except BaseException:
                    await connection.close()
                    raise
                if connection.reusable and self._idle != timedelta(0):
                    self._connections[key] = connection
            connection.in_flight += 1
            if connection.idle_timer is not None:
                connection.idle_timer.cancel()
                connection.idle_timer = None
        try:
            yield connection.server
        except MCPError as error:
            connection.retired |= error.code in _BROKEN_CONNECTION_CODES
            raise
        except asyncio.CancelledError:
            raise  # the request was cancelled on the wire; the connection is fine
        except BaseException:
            connection.retired = True
            raise
        finally:
            connection.in_flight -= 1
            await self._release(key, connection)

    async def _release(self, key: tuple[asyncio.AbstractEventLoop, str],
                       connection: _Connection) -> None:
        cached = self._connections.get(key) is connection
        if cached and connection.retired:
            del self._connections[key]
            cached = False
        if connection.in_flight:
            return
        if not cached:
            await connection.close()
        elif self._idle is not None:
            connection.idle_timer = asyncio.get_running_loop().call_later(
                self._idle.total_seconds(), self._evict_if_idle, key, connection)

    def _evict_if_idle(self, key: tuple[asyncio.AbstractEventLoop, str],
                       connection: _Connection) -> None:
        connection.idle_timer = None
        if connection.in_flight or self._connections.get(key) is not connection:
            return
        del self._connections[key]
        # Kept here: the loop holds tasks weakly, and close() waits for these.
        task = asyncio.get_running_loop().create_task(connection.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @asynccontextmanager
    async def open(self) -> AsyncIterator[None]:
        """Keep connections while a worker runs; the last worker of this event loop to stop
        closes them (a stateful MCP session runs a worker of its own with the same plugin)."""
        loop = asyncio.get_running_loop()
        self._users[loop] = self._users.get(loop, 0) + 1
        try:
            yield
        finally:
            self._users[loop] -= 1
            if not self._users[loop]:
                del self._users[loop]
                await self._close()

    async def _close(self) -> None:
        loop = asyncio.get_running_loop()
        mine = [key for key in self._connections if key[0] is loop]
        closing = [task for task in self._closing if task.get_loop() is loop]
        await asyncio.gather(*closing, *(self._connections.pop(key).close() for key in mine),
                             return_exceptions=True)

    async def _run(self, name: str, request: dict[str, Any],
                   operation: Callable[[MCPServer], Any]) -> Any:
        try:
            async with self.server(name, request.get("factory_argument")) as server:
                result = await operation(server)
        except MCPError as error:
            raise ApplicationError(error.message, error.code, type="MCPProtocolError",
                                   non_retryable=error.code in _NON_RETRYABLE_CODES) \
                from error
        if isinstance(result, list):  # list_tools answers with the tools only
            return ListToolsResult(tools=result).model_dump(mode="json", by_alias=True)
        return result.model_dump(mode="json", by_alias=True)

    def activities(self) -> list[Callable[..., Any]]:
        found: list[Callable[..., Any]] = []
        operations: dict[str, Callable[[dict[str, Any]], Callable[[MCPServer], Any]]] = {
            "list-tools": lambda r: lambda s: s.list_tools(),
            "call-tool": lambda r: lambda s: s.call_tool(r["name"], r.get("arguments"),
                                                         r.get("meta")),
            "list-prompts": lambda r: lambda s: s.list_prompts(),
            "get-prompt": lambda r: lambda s: s.get_prompt(r["name"], r.get("arguments")),
            "list-resources": lambda r: lambda s: s.list_resources(),
            "list-resource-templates": lambda r: lambda s: s.list_resource_templates(),
            "read-resource": lambda r: lambda s: s.read_resource(r["uri"]),
        }
        for name in self._factories:
            for operation, call in operations.items():
                found.append(self._activity(name, operation, call))
        return found

    def _activity(self, name: str, operation: str,
                  call: Callable[[dict[str, Any]], Callable[[MCPServer], Any]]
                  ) -> Callable[..., Any]:
        async def run(request: dict[str, Any]) -> dict[str, Any]:
            result: dict[str, Any] = await self._run(name, request, call(request))
            return result

        run.__name__ = run.__qualname__ = f"mcp_{operation.replace('-', '_')}"
        return activity.defn(name=activity_name(name, operation))(run)


# -- the workflow side -------------------------------------------------------------------------

class _TemporalMCPServer(MCPServer):
    def __init__(self, name: str, activity_config: Mapping[str, Any] | None,
                 cache_tools_list: bool, factory_argument: Any, *, tool_filter: Any = None,
                 **server_options: Any) -> None:
        super().__init__(**server_options)
        config = dict(activity_config or {})
        if config.get("start_to_close_timeout") is None and \
                config.get("schedule_to_close_timeout") is None:
            config["start_to_close_timeout"] = timedelta(minutes=1)
        self._name = name
        self._config = config
        self._cache = cache_tools_list
        self._tools: list[MCPTool] | None = None
        self._argument = factory_argument
        self._tool_filter = tool_filter

    @property
    def name(self) -> str:
        return self._name

    async def connect(self) -> None:
        pass

    async def cleanup(self) -> None:
        pass

    async def _execute(self, operation: str, **fields: Any) -> Any:
        return await workflow.execute_activity(
            activity_name(self._name, operation),
            {"factory_argument": self._argument, **fields}, result_type=dict, **self._config)

    async def list_tools(self, run_context: RunContextWrapper[Any] | None = None,
                         agent: AgentBase[Any] | None = None) -> list[MCPTool]:
        if self._tools is None or not self._cache:
            tools = ListToolsResult.model_validate(await self._execute("list-tools")).tools
            if self._cache:
                self._tools = tools
        else:
            tools = self._tools
        return await self._filtered(tools, run_context, agent)

    async def _filtered(self, tools: list[MCPTool], run_context: Any,
                        agent: Any) -> list[MCPTool]:
        chosen = self._tool_filter
        if chosen is None:
            return tools
        if isinstance(chosen, dict):
            allowed = chosen.get("allowed_tool_names")
            blocked = chosen.get("blocked_tool_names") or ()
            return [t for t in tools if (allowed is None or t.name in allowed)
                    and t.name not in blocked]
        if run_context is None or agent is None:
            raise ValueError("a callable tool_filter needs the run context and the agent")
        context = ToolFilterContext(run_context=run_context, agent=agent,
                                    server_name=self._name)
        kept = []
        for tool in tools:
            keep = chosen(context, tool)
            if inspect.isawaitable(keep):
                keep = await keep
            if keep:
                kept.append(tool)
        return kept

    async def call_tool(self, tool_name: str, arguments: dict[str, Any] | None,
                        meta: dict[str, Any] | None = None) -> CallToolResult:
        return CallToolResult.model_validate(await self._execute(
            "call-tool", name=tool_name, arguments=arguments, meta=meta))

    async def list_prompts(self) -> ListPromptsResult:
        return ListPromptsResult.model_validate(await self._execute("list-prompts"))

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None
                         ) -> GetPromptResult:
        # MCP wants string arguments; the Agents SDK allows any value.
        strings = None if arguments is None else {k: str(v) for k, v in arguments.items()}
        return GetPromptResult.model_validate(await self._execute(
            "get-prompt", name=name, arguments=strings))

    async def list_resources(self, cursor: str | None = None) -> ListResourcesResult:
        if cursor is not None:
            raise ValueError("durable MCP servers return resource lists whole (no cursor)")
        return ListResourcesResult.model_validate(await self._execute("list-resources"))

    async def list_resource_templates(self, cursor: str | None = None
                                      ) -> ListResourceTemplatesResult:
        if cursor is not None:
            raise ValueError("durable MCP servers return template lists whole (no cursor)")
        return ListResourceTemplatesResult.model_validate(
            await self._execute("list-resource-templates"))

    async def read_resource(self, uri: str) -> ReadResourceResult:
        return ReadResourceResult.model_validate(await self._execute("read-resource", uri=uri))


def temporal_mcp_server(name: str, activity_config: Mapping[str, Any] | None = None,
                        cache_tools_list: bool = True, factory_argument: Any = None,
                        **server_options: Any) -> MCPServer:
    return _TemporalMCPServer(name, activity_config, cache_tools_list, factory_argument,
                              **server_options)


def is_temporal_mcp_server(server: Any) -> bool:
    return isinstance(server, _TemporalMCPServer)
