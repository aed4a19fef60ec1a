"""What workflow code uses with the OpenAI Agents SDK (mirrors
``temporalio.contrib.openai_agents.workflow``): activities as agent tools, and MCP servers
whose operations are activities."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from agents.function_schema import function_schema
from agents.mcp import MCPServer

from agents import FunctionTool, RunContextWrapper, Tool

from ... import workflow as _workflow
from ..._model.definitions import get_activity_definition
from ...common import RetryPolicy
from ...exceptions import ApplicationError, StalwartError
from ...workflow import ActivityCancellationType
from ._errors import AgentsWorkflowError
from ._mcp import stateful_reference, stateless_reference
from ._mcp_v2 import temporal_mcp_server as _temporal_mcp_server

__all__ = ["AgentsWorkflowError", "ToolSerializationError", "activity_as_tool",
           "stateful_mcp_server", "stateless_mcp_server", "temporal_mcp_server"]


class ToolSerializationError(StalwartError):
    """A tool's result could not be turned into the text the model reads (``str(result)``
    failed)."""


def activity_as_tool(
    fn: Callable[..., Any], *, task_queue: str | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None, heartbeat_timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None, versioning_intent: Any = None, summary: str | None = None,
    priority: Any = None, strict_json_schema: bool = True,
) -> Tool:
    """An agent tool that runs the activity ``fn``: each call the model makes is one activity.

    The tool's name, description and parameter schema come from ``fn`` (its name, docstring
    and type hints); the model reads ``str()`` of the activity's result. An activity method
    (first parameter ``self``) works too: the worker runs it on the registered instance.

    Raises:
        ApplicationError: ``fn`` is not an ``@activity.defn`` function.
    """
    definition = get_activity_definition(fn)
    if definition is None:
        raise ApplicationError(f"activity_as_tool({fn!r}): a bare function without "
                               "@activity.defn cannot be a durable tool", "invalid_tool")
    name = definition.name
    params = list(inspect.signature(fn).parameters)
    if params and params[0] == "self":
        # Only the schema needs a callable without ``self``; the activity runs on the worker.
        bound = functools.partial(fn, None)
        functools.update_wrapper(bound, fn)
        fn = bound
    schema = function_schema(fn)
    options: dict[str, Any] = {
        "task_queue": task_queue, "schedule_to_close_timeout": schedule_to_close_timeout,
        "schedule_to_start_timeout": schedule_to_start_timeout,
        "start_to_close_timeout": start_to_close_timeout,
        "heartbeat_timeout": heartbeat_timeout, "retry_policy": retry_policy,
        "cancellation_type": cancellation_type, "activity_id": activity_id,
        "summary": summary or schema.description}

    async def run_activity(ctx: RunContextWrapper[Any], input: str) -> Any:
        try:
            data = json.loads(input or "{}")
        except ValueError as error:
            raise ApplicationError(f"Invalid JSON input for tool {schema.name}: {input}") \
                from error
        args, _ = schema.to_call_args(schema.params_pydantic_model(**data))
        if schema.takes_context:
            args = [ctx, *args]
        result = await _workflow.execute_activity(name, args=args, **options)
        try:
            return str(result)
        except Exception as error:
            raise ToolSerializationError(
                f"tool {schema.name}: the activity's result must be a str or something str() "
                "accepts") from error

    return FunctionTool(name=schema.name, description=schema.description or "",
                        params_json_schema=schema.params_json_schema,
                        on_invoke_tool=run_activity, strict_json_schema=strict_json_schema)


def stateless_mcp_server(name: str, config: Mapping[str, Any] | None = None,
                         cache_tools_list: bool = False,
                         factory_argument: Any | None = None) -> MCPServer:
    """An MCP server for ``Agent(mcp_servers=[...])`` whose every operation is an activity of
    the ``StatelessMCPServerProvider`` registered under ``name`` on the plugin.

    Args:
        config: Activity options (``execute_activity`` keyword arguments) for the operations;
            default: one minute start-to-close.
        cache_tools_list: Keep the first tool listing for the rest of the run.
        factory_argument: Passed to the provider's factory. It is recorded in history: no
            secrets.
    """
    return stateless_reference(name, config, cache_tools_list, factory_argument)


def stateful_mcp_server(name: str, config: Mapping[str, Any] | None = None,
                        server_session_config: Mapping[str, Any] | None = None,
                        factory_argument: Any | None = None,
                        ) -> AbstractAsyncContextManager[MCPServer]:
    """An MCP server kept connected for the workflow run by the ``StatefulMCPServerProvider``
    registered under ``name``; use as ``async with stateful_mcp_server(name) as server:``.

    Args:
        config: Activity options for the operations; default: one minute start-to-close,
            30 seconds schedule-to-start (so a lost session worker is noticed).
        server_session_config: Activity options of the session activity; default: one hour
            start-to-close.
        factory_argument: Passed to the provider's factory (recorded in history: no secrets).
    """
    return stateful_reference(name, config, server_session_config, factory_argument)


def temporal_mcp_server(name: str, activity_config: Mapping[str, Any] | None = None,
                        cache_tools_list: bool = True, factory_argument: Any = None,
                        **server_options: Any) -> MCPServer:
    """An MCP server for ``Agent(mcp_servers=[...])`` whose operations are activities of the
    server registered as ``OpenAIAgentsPlugin(mcp_servers={name: factory})``.

    Args:
        activity_config: Activity options of the operations; default: one minute
            start-to-close.
        cache_tools_list: Keep the tool list for the rest of the run (default).
        factory_argument: Passed to the factory, which then makes a server for this one
            activity. Recorded in history: no secrets.
        server_options: ``agents.mcp.MCPServer`` options (``require_approval``,
            ``failure_error_function``, ``tool_filter`` ...). A callable ``tool_filter`` runs
            in the workflow and must be deterministic.
    """
    return _temporal_mcp_server(name, activity_config, cache_tools_list, factory_argument,
                                **server_options)
