"""MCP server tools as activities.

A ``TemporalAgent``'s ``MCPToolset`` (it needs an ``id``) never connects from the workflow:
listing the server's tools is the activity ``agent__<name>__mcp_server__<id>__get_tools`` (once
per model step, recorded, so a replay lists the same tools) and each tool call the activity
``agent__<name>__mcp_server__<id>__call_tool``. Each activity connects to the server, does its
one operation and disconnects, so a retried call runs on a fresh connection on any worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

from pydantic import TypeAdapter
from pydantic_ai.durable_exec import CallToolResult
from pydantic_ai.durable_exec._toolset import unwrap_tool_call_result, wrap_tool_call_result
from pydantic_ai.tools import RunContext, ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool, WrapperToolset
from pydantic_core import to_jsonable_python

from ... import activity, workflow
from ...workflow import ActivityConfig
from .._heartbeat import heartbeating
from ._run_context import TemporalRunContext, restore_run_context

__all__ = ["ActivityMCPToolset", "is_mcp_toolset"]

_RESULT: TypeAdapter[Any] = TypeAdapter(CallToolResult)
_TOOL_DEFS: TypeAdapter[list[ToolDefinition]] = TypeAdapter(list[ToolDefinition])
_TOOL_DEF: TypeAdapter[ToolDefinition] = TypeAdapter(ToolDefinition)


def is_mcp_toolset(toolset: AbstractToolset[Any]) -> bool:
    # Checked by module, not isinstance: importing pydantic_ai.mcp needs the MCP client extra.
    return any(cls.__module__ == "pydantic_ai.mcp" and cls.__name__ == "MCPToolset"
               for cls in type(toolset).__mro__)


class ActivityMCPToolset(WrapperToolset[Any]):
    """An ``MCPToolset`` whose listing and calls are activities inside a workflow."""

    def __init__(self, wrapped: AbstractToolset[Any], *, activity_prefix: str,
                 config: ActivityConfig, run_context_type: type[TemporalRunContext],
                 deps_type: Any, agent: Any) -> None:
        super().__init__(wrapped)
        self._prefix = activity_prefix
        self._config = config
        self._run_context_type = run_context_type
        self._agent = agent
        self.activities = self._make_activities(deps_type)

    @property
    def id(self) -> str | None:
        return self.wrapped.id

    def visit_and_replace(self, visitor: Callable[[AbstractToolset[Any]], AbstractToolset[Any]]
                          ) -> AbstractToolset[Any]:
        return self

    async def __aenter__(self) -> Self:
        # In a workflow the connection is the activities' business, not the workflow's.
        if not workflow.in_workflow():
            await self.wrapped.__aenter__()
        return self

    async def __aexit__(self, *args: Any) -> bool | None:
        if not workflow.in_workflow():
            return await self.wrapped.__aexit__(*args)
        return None

    def _request(self, ctx: RunContext[Any], **extra: Any) -> dict[str, Any]:
        return {**extra, "run_context": to_jsonable_python(
            self._run_context_type.serialize_run_context(ctx))}

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        if not workflow.in_workflow():
            return await super().get_tools(ctx)
        config: dict[str, Any] = {"summary": f"get tools: {self.id}", **self._config}
        result = await workflow.execute_activity(
            f"{self._prefix}__get_tools", args=[self._request(ctx), ctx.deps],
            result_type=list, **config)
        # An MCP tool is fully described by its definition: rebuilding it asks no server.
        return {tool_def.name: await self.wrapped.get_tool_for_tool_def(tool_def, ctx)
                for tool_def in _TOOL_DEFS.validate_python(result)}

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any],
                        tool: ToolsetTool[Any]) -> Any:
        if not workflow.in_workflow():
            return await super().call_tool(name, tool_args, ctx, tool)
        request = self._request(ctx, name=name, tool_args=to_jsonable_python(tool_args),
                                tool_def=_TOOL_DEF.dump_python(tool.tool_def, mode="json"))
        config: dict[str, Any] = {"summary": f"call tool: {self.id}:{name}", **self._config}
        result = await workflow.execute_activity(
            f"{self._prefix}__call_tool", args=[request, ctx.deps], result_type=dict, **config)
        return unwrap_tool_call_result(_RESULT.validate_python(result))

    def _make_activities(self, deps_type: Any) -> list[Callable[..., Any]]:
        server = self.wrapped

        def context(request: dict[str, Any], deps: Any) -> RunContext[Any]:
            return restore_run_context(self._run_context_type, request["run_context"], deps,
                                       self._agent)

        async def get_tools(request: dict[str, Any], deps: Any = None) -> list[Any]:
            ctx = context(request, deps)

            async def listed() -> dict[str, ToolsetTool[Any]]:
                async with server:
                    return await server.get_tools(ctx)

            tools = await heartbeating(listed)
            return list(_TOOL_DEFS.dump_python([t.tool_def for t in tools.values()],
                                               mode="json"))

        async def call_tool(request: dict[str, Any], deps: Any = None) -> dict[str, Any]:
            ctx = context(request, deps)
            tool_def = _TOOL_DEF.validate_python(request["tool_def"])
            tool = await server.get_tool_for_tool_def(tool_def, ctx)

            async def called() -> Any:
                async with server:
                    return await wrap_tool_call_result(
                        server.call_tool(request["name"], request["tool_args"], ctx, tool))

            return dict(_RESULT.dump_python(await heartbeating(called), mode="json"))

        get_tools.__annotations__ = {"request": dict[str, Any], "deps": deps_type | None,
                                     "return": list[Any]}
        call_tool.__annotations__ = {"request": dict[str, Any], "deps": deps_type | None,
                                     "return": dict[str, Any]}
        return [activity.defn(name=f"{self._prefix}__get_tools")(get_tools),
                activity.defn(name=f"{self._prefix}__call_tool")(call_tool)]
