"""Function tool calls as activities.

Each leaf ``FunctionToolset`` of a ``TemporalAgent`` is wrapped: inside a workflow a tool call
sends the tool's name, its validated arguments, the prepared tool definition and the run
context (as JSON) with ``deps`` to the toolset's activity, which rebuilds the run context and
calls the tool. Listing tools and validating arguments stay in the workflow (they do no I/O).
``ModelRetry``, ``ApprovalRequired``, ``CallDeferred`` and validation errors cross back as data,
through Pydantic AI's own result type, and are raised again in the workflow; any other error
fails the activity like any bug in an activity (retried per its retry policy, then recorded).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

from pydantic import TypeAdapter
from pydantic_ai.durable_exec import CallToolResult
from pydantic_ai.durable_exec._toolset import unwrap_tool_call_result, wrap_tool_call_result
from pydantic_ai.exceptions import UserError
from pydantic_ai.tools import RunContext, ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset, ToolsetTool, WrapperToolset
from pydantic_ai.toolsets.function import FunctionToolsetTool
from pydantic_core import to_jsonable_python

from ... import activity, workflow
from ...workflow import ActivityConfig
from .._heartbeat import heartbeating
from ._run_context import TemporalRunContext, restore_run_context

__all__ = ["ActivityToolset", "TemporalWrapperToolset"]

_RESULT: TypeAdapter[Any] = TypeAdapter(CallToolResult)
_TOOL_DEF: TypeAdapter[ToolDefinition] = TypeAdapter(ToolDefinition)


class ActivityToolset(WrapperToolset[Any]):
    """A function toolset whose tool calls are activities inside a workflow.

    Args:
        wrapped: The agent's function toolset (it needs an ``id``: it names the activity).
        activity_name: Name of the toolset's call-tool activity.
        config: Options of the activity.
        tool_config: Per tool: options merged over ``config``, or ``False`` to call the tool
            in the workflow (only for ``async`` tools that do no I/O).
        run_context_type: How the run context crosses to the activity.
        deps_type: The type the worker validates ``deps`` against.
        agent: The wrapped agent (attached to the rebuilt run context).
    """

    def __init__(self, wrapped: FunctionToolset[Any], *, activity_name: str,
                 config: ActivityConfig,
                 tool_config: Mapping[str, ActivityConfig | Literal[False]],
                 run_context_type: type[TemporalRunContext], deps_type: Any,
                 agent: Any) -> None:
        super().__init__(wrapped)
        self._activity_name = activity_name
        self._config = config
        self._tool_config = dict(tool_config)
        self._run_context_type = run_context_type
        self._agent = agent
        self.activity = self._make_activity(deps_type)

    @property
    def id(self) -> str | None:
        return self.wrapped.id

    def visit_and_replace(self, visitor: Callable[[AbstractToolset[Any]], AbstractToolset[Any]]
                          ) -> AbstractToolset[Any]:
        # Already the durable leaf: wrapping it again would nest activities.
        return self

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any],
                        tool: ToolsetTool[Any]) -> Any:
        if not workflow.in_workflow():
            return await super().call_tool(name, tool_args, ctx, tool)
        override = self._tool_config.get(name)
        metadata = (tool.tool_def.metadata or {}).get("temporal")
        if override is None and metadata is not None:
            # Pydantic AI's per-tool spelling: @toolset.tool(metadata={"temporal": ...}).
            if isinstance(metadata, dict) and "child_workflow" in metadata:
                raise UserError(f"tool {name!r} asks to run as a child workflow (metadata "
                                "'temporal': {'child_workflow': ...}), which Stalwart's "
                                "TemporalAgent does not support; drop it to run the tool as "
                                "an activity")
            if metadata is not False and not isinstance(metadata, dict):
                raise UserError(f"tool {name!r} has metadata 'temporal' = {metadata!r}; it "
                                "must be an ActivityConfig dict or False")
            override = cast(ActivityConfig | Literal[False], metadata)
        if override is False:
            if isinstance(tool, FunctionToolsetTool) and not tool.is_async:
                raise UserError(f"tool {name!r} is set to run in the workflow (activity config "
                                "False) but is not async: sync tools run in threads, which a "
                                "workflow cannot use; make it async or let it run as an activity")
            return await super().call_tool(name, tool_args, ctx, tool)
        request = {
            "name": name, "tool_args": to_jsonable_python(tool_args),
            "tool_def": _TOOL_DEF.dump_python(tool.tool_def, mode="json"),
            "run_context": to_jsonable_python(self._run_context_type.serialize_run_context(ctx)),
        }
        config: dict[str, Any] = {"summary": f"call tool: {self.id}:{name}", **self._config,
                                  **(override or {})}
        result = await workflow.execute_activity(self._activity_name, args=[request, ctx.deps],
                                                 result_type=dict, **config)
        return unwrap_tool_call_result(_RESULT.validate_python(result))

    def _make_activity(self, deps_type: Any) -> Callable[..., Any]:
        toolset = self.wrapped
        assert isinstance(toolset, FunctionToolset)

        async def call_tool(request: dict[str, Any], deps: Any = None) -> dict[str, Any]:
            ctx = restore_run_context(self._run_context_type, request["run_context"], deps,
                                      self._agent)
            name = request["name"]
            tool_def = _TOOL_DEF.validate_python(request["tool_def"])
            try:
                tool = toolset.tool_for_tool_def(tool_def, ctx=ctx, original_name=name)
            except KeyError:
                raise UserError(f"tool {name!r} is not in toolset {toolset.id!r} on this worker: "
                                "renaming or removing tools while runs are in flight is not "
                                "supported") from None
            result = await heartbeating(lambda: wrap_tool_call_result(
                toolset.call_tool(name, request["tool_args"], ctx, tool)))
            return dict(_RESULT.dump_python(result, mode="json"))

        # The pydantic converter validates each argument against these hints.
        call_tool.__annotations__ = {"request": dict[str, Any], "deps": deps_type | None,
                                     "return": dict[str, Any]}
        return activity.defn(name=self._activity_name)(call_tool)


TemporalWrapperToolset = ActivityToolset
