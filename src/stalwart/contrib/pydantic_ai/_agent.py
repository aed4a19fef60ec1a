"""``TemporalAgent``: a Pydantic AI agent whose I/O runs as Stalwart activities.

The agent loop (Pydantic AI's graph: building requests, validating tool arguments and
output, retries of output validation) runs in the workflow; each model request, each
function tool call and each MCP listing or call is an activity. Outside a workflow the
wrapper behaves like the agent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any, Literal, cast

from pydantic_ai import _utils
from pydantic_ai._agent_graph import set_agent_graph_sleep
from pydantic_ai.agent import AbstractAgent, AgentRun, WrapperAgent
from pydantic_ai.durable_exec import conversation_id_from_run_id
from pydantic_ai.exceptions import ModelAPIError, UserError
from pydantic_ai.models import Model
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset

from ... import workflow
from ..._runtime import guard as _guard
from ...common import RetryPolicy
from ...workflow import ActivityConfig
from ._errors import NON_RETRYABLE_MODEL_ERRORS
from ._mcp import ActivityMCPToolset, is_mcp_toolset
from ._model import ActivityModel
from ._run_context import TemporalRunContext
from ._toolset import ActivityToolset

__all__ = ["StalwartAgent", "TemporalAgent"]

# Pydantic AI stamps messages with the time and draws ids for its own bookkeeping; none of it
# decides which activities the workflow schedules. Its frames, and only its frames, may do so
# in workflow code: tools and output validators written by users stay guarded.
_guard.trust_callers("pydantic_ai.", "pydantic_graph.", "logfire_api.", "anyio.")

# Errors another attempt cannot fix: a user error in the agent's set-up.
_NON_RETRYABLE_TYPES = ["UserError", "PydanticUserError"]

_MODEL_HEARTBEAT_TIMEOUT = timedelta(seconds=30)

_IO_FREE_LEAVES = ("ExternalToolset", "DeferredToolset")


def _with_non_retryable(policy: RetryPolicy | None) -> RetryPolicy:
    policy = policy or RetryPolicy()
    names = list(policy.non_retryable_error_types or ())
    return dataclasses.replace(policy, non_retryable_error_types=[
        *names, *(n for n in _NON_RETRYABLE_TYPES if n not in names)])


def _checked_config(config: Mapping[str, Any] | None, field: str) -> ActivityConfig:
    allowed = set(ActivityConfig.__annotations__)
    for key in config or {}:
        if key not in allowed:
            raise TypeError(f"TemporalAgent({field}=...) has an unknown activity option "
                            f"{key!r}; allowed: {', '.join(sorted(allowed))}")
    return cast(ActivityConfig, dict(config or {}))


class TemporalAgent(WrapperAgent[Any, Any]):
    """Wrap an agent so that, inside a workflow, its model requests and tool calls are
    activities (Pydantic AI's ``TemporalAgent``, same arguments).

    Args:
        wrapped: The agent. It needs a ``name`` (or pass ``name``): it names the activities.
        name: Unique agent name used in activity names; default: the agent's name.
        models: Models a run may pick with ``run(model="key")`` (or by passing the instance).
        event_stream_handler: Not supported inside workflows (must be ``None``).
        activity_config: Base options of every activity; default: 60 s start-to-close.
        model_activity_config: Merged over the base for model requests (which also get a
            30 s heartbeat timeout unless a config sets one; they heartbeat every 15 s).
        toolset_activity_config: Merged over the base per toolset id.
        tool_activity_config: Per toolset id and tool name: options merged over the toolset's,
            or ``False`` to call an ``async`` tool that does no I/O in the workflow.
        run_context_type: How the run context crosses to tool activities.
        non_retryable_model_errors: Model error classes no retry can help (default: rejected
            request, exhausted quota, request timeout).
    """

    def __init__(
        self, wrapped: AbstractAgent[Any, Any], *, name: str | None = None,
        models: Mapping[str, Model] | None = None, provider_factory: Any = None,
        event_stream_handler: Any = None,
        activity_config: ActivityConfig | None = None,
        model_activity_config: ActivityConfig | None = None,
        toolset_activity_config: Mapping[str, ActivityConfig] | None = None,
        tool_activity_config: Mapping[str, Mapping[str, ActivityConfig | Literal[False]]]
        | None = None,
        run_context_type: type[TemporalRunContext] = TemporalRunContext,
        non_retryable_model_errors: Sequence[type[ModelAPIError]] = NON_RETRYABLE_MODEL_ERRORS,
        temporalize_toolset_func: Any = None,
    ) -> None:
        super().__init__(wrapped)
        self._name = name
        if self.name is None:
            raise UserError("TemporalAgent needs a unique agent name (Agent(name=...) or "
                            "TemporalAgent(name=...)): it names the agent's activities")
        for field, value in (("event_stream_handler", event_stream_handler),
                             ("provider_factory", provider_factory),
                             ("temporalize_toolset_func", temporalize_toolset_func)):
            if value is not None:
                raise UserError(f"TemporalAgent({field}=...) is not supported by Stalwart")
        if wrapped.event_stream_handler is not None:
            raise UserError(f"agent {self.name!r} has an event_stream_handler: streaming "
                            "events is not supported by Stalwart's TemporalAgent")
        if not (isinstance(run_context_type, type)
                and issubclass(run_context_type, TemporalRunContext)):
            raise TypeError("TemporalAgent(run_context_type=...) must be a TemporalRunContext "
                            f"subclass, got {run_context_type!r}")
        base = _checked_config(activity_config, "activity_config")
        base.setdefault("start_to_close_timeout", timedelta(seconds=60))
        base["retry_policy"] = _with_non_retryable(base.get("retry_policy"))
        self.activity_config = base
        self.run_context_type = run_context_type
        prefix = f"agent__{self.name}"
        # Model requests heartbeat (see contrib._heartbeat), so a worker that died during a
        # long provider call is noticed at the heartbeat timeout, not the start-to-close one.
        model_config = {"heartbeat_timeout": _MODEL_HEARTBEAT_TIMEOUT, **base,
                        **_checked_config(model_activity_config, "model_activity_config")}
        wrapped_model = wrapped.model
        self._model = ActivityModel(
            wrapped_model if isinstance(wrapped_model, Model) else None,
            default_name=wrapped_model if isinstance(wrapped_model, str) else None,
            models=models or {}, activity_name=f"{prefix}__model_request",
            config=cast(ActivityConfig, model_config),
            non_retryable_errors=tuple(non_retryable_model_errors))
        activities: list[Callable[..., Any]] = [self._model.activity]
        toolset_config = dict(toolset_activity_config or {})
        tool_config = dict(tool_activity_config or {})

        def durable(toolset: AbstractToolset[Any]) -> AbstractToolset[Any]:
            if isinstance(toolset, ActivityToolset):
                return toolset
            if isinstance(toolset, FunctionToolset):
                toolset_id = toolset.id
                if toolset_id is None:
                    raise UserError("a function toolset needs a unique id with TemporalAgent "
                                    "(FunctionToolset(id=...)): it names the toolset's activity")
                wrapped_toolset = ActivityToolset(
                    toolset, activity_name=f"{prefix}__toolset__{toolset_id}__call_tool",
                    config=cast(ActivityConfig, {
                        **base, **_checked_config(toolset_config.get(toolset_id),
                                                  f"toolset_activity_config[{toolset_id!r}]")}),
                    tool_config=tool_config.get(toolset_id, {}),
                    run_context_type=run_context_type, deps_type=wrapped.deps_type,
                    agent=wrapped)
                activities.append(wrapped_toolset.activity)
                return wrapped_toolset
            if is_mcp_toolset(toolset):
                toolset_id = toolset._explicit_id  # a URL-derived id must not name activities
                if toolset_id is None:
                    raise UserError("an MCP toolset needs a unique id with TemporalAgent "
                                    "(MCPToolset(..., id=...)): it names the toolset's "
                                    "activities")
                mcp = ActivityMCPToolset(
                    toolset, activity_prefix=f"{prefix}__mcp_server__{toolset_id}",
                    config=cast(ActivityConfig, {
                        **base, **_checked_config(toolset_config.get(toolset_id),
                                                  f"toolset_activity_config[{toolset_id!r}]")}),
                    run_context_type=run_context_type, deps_type=wrapped.deps_type,
                    agent=wrapped)
                activities.extend(mcp.activities)
                return mcp
            if type(toolset).__name__ in _IO_FREE_LEAVES:
                return toolset
            raise UserError(
                f"toolset {toolset.id or type(toolset).__name__!r} of type "
                f"{type(toolset).__name__} is not supported by Stalwart's TemporalAgent: "
                "use function toolsets or MCP toolsets (dynamic toolsets are not supported)")

        self._toolsets = [toolset.visit_and_replace(durable) for toolset in wrapped.toolsets]
        self._activities = activities

    @property
    def name(self) -> str | None:
        return self._name or super().name

    @name.setter
    def name(self, value: str | None) -> None:
        raise UserError("a TemporalAgent's name cannot change: it names the agent's activities")

    @property
    def model(self) -> Model:
        return self._model

    @property
    def toolsets(self) -> Sequence[AbstractToolset[Any]]:
        return self._toolsets

    @property
    def temporal_activities(self) -> list[Callable[..., Any]]:
        """The activities a worker needs to run this agent (``AgentPlugin`` registers them)."""
        return list(self._activities)

    stalwart_activities = temporal_activities

    @contextmanager
    def _durable(self) -> Iterator[None]:
        with (super().override(model=self._model, toolsets=self._toolsets, tools=[]),
              _utils.disable_threads(), set_agent_graph_sleep(workflow.sleep)):
            yield

    @asynccontextmanager
    async def iter(self, user_prompt: Any = None, **kwargs: Any
                   ) -> AsyncIterator[AgentRun[Any, Any]]:
        if not workflow.in_workflow():
            async with super().iter(user_prompt, **kwargs) as run:
                yield run
            return
        for toolset in kwargs.get("toolsets") or ():
            if not all(type(leaf).__name__ in _IO_FREE_LEAVES for leaf in _leaves(toolset)):
                raise UserError("toolsets passed to run() inside a workflow can only be "
                                "external/deferred toolsets: tools that run need activities "
                                "registered on the worker, so give them to the agent instead")
        key = self._model.resolve(kwargs.pop("model", None))
        if kwargs.get("run_id") is None:
            # The same on every replay, so activity inputs that carry it do not change.
            kwargs["run_id"] = f"{workflow.info().run_id}:{workflow.uuid4()}"
        if kwargs.get("conversation_id") is None and not kwargs.get("message_history") \
                and kwargs.get("conversation") is None:
            kwargs["conversation_id"] = conversation_id_from_run_id(kwargs["run_id"])
        with self._durable():
            async with self._model.using(key), super().iter(user_prompt, **kwargs) as run:
                yield run

    def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        if workflow.in_workflow():
            raise UserError("agent.run_sync() cannot be used inside a workflow: await "
                            "agent.run(...)")
        return super().run_sync(*args, **kwargs)

    @asynccontextmanager
    async def run_stream(self, *args: Any, **kwargs: Any
                         ) -> AsyncIterator[Any]:
        if workflow.in_workflow():
            raise UserError("agent.run_stream() is not supported inside a Stalwart workflow: "
                            "use agent.run()")
        async with super().run_stream(*args, **kwargs) as result:
            yield result

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        if workflow.in_workflow() and kwargs.get("event_stream_handler") is not None:
            raise UserError("run(event_stream_handler=...) is not supported inside a Stalwart "
                            "workflow")
        return await super().run(*args, **kwargs)


def _leaves(toolset: AbstractToolset[Any]) -> list[AbstractToolset[Any]]:
    found: list[AbstractToolset[Any]] = []
    toolset.apply(found.append)
    return found


StalwartAgent = TemporalAgent
