"""The Agents SDK's runner made durable inside workflows.

``OpenAIAgentsPlugin`` installs :class:`DurableAgentRunner` as the SDK's default runner while
its workers run, so ``agents.Runner.run(agent, input)`` in workflow code runs the SDK's own
agent loop in the workflow with every agent's model swapped for a stub whose calls are model
activities. Tools and handoffs run in the workflow, so a handoff switches agents on replay
exactly as it did the first time; outside a workflow the SDK's runner is used unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from agents.agent_output import AgentOutputSchemaBase
from agents.exceptions import AgentsException
from agents.items import TResponseInputItem
from agents.run import DEFAULT_AGENT_RUNNER, AgentRunner
from openai.types.responses import Response, ResponseCompletedEvent, ResponseStreamEvent
from pydantic import TypeAdapter

from agents import (
    Agent,
    Handoff,
    Model,
    ModelResponse,
    ModelSettings,
    ModelTracing,
    RunConfig,
    RunContextWrapper,
    RunResult,
    RunResultStreaming,
    SQLiteSession,
    Tool,
)

from ... import workflow
from ..._runtime import guard as _guard
from ...exceptions import FailureError
from ._errors import AgentsWorkflowError
from ._mcp import is_durable_server
from ._mcp_v2 import is_temporal_mcp_server
from ._model_activity import (
    MODEL_ACTIVITY,
    STREAMING_MODEL_ACTIVITY,
    request_json,
    response_from_json,
)
from ._params import ModelActivityParameters

_STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)

__all__ = ["DurableAgentRunner", "prepare_agent"]

# The SDK reads the clock and draws ids for its own bookkeeping (spans, item ids, retry
# timing); none of that decides which commands the workflow issues. Its frames, and only
# its frames, may do so in workflow code: tools and guardrails written by users stay guarded.
_guard.trust_callers("agents.", "openai.")


class ModelStub(Model):
    """Stands in for an agent's model inside the workflow: each call is a model activity."""

    def __init__(self, model_name: str | None, params: ModelActivityParameters,
                 agent: Agent[Any] | None) -> None:
        self.model_name = model_name
        self.params = params
        self.agent = agent

    def _summary(self, instructions: str | None, input: Any) -> str | None:
        override = self.params.summary_override
        if isinstance(override, str):
            return override
        if override is not None:
            return override.provide(self.agent, instructions, input)
        return self.agent.name if self.agent is not None else None

    async def _execute(self, activity_name: str, request: dict[str, Any],
                       summary: str | None, result_type: type = dict) -> Any:
        params = self.params
        if params.use_local_activity:
            result: Any = await workflow.execute_local_activity(
                activity_name, request, result_type=result_type,
                schedule_to_close_timeout=params.schedule_to_close_timeout,
                schedule_to_start_timeout=params.schedule_to_start_timeout,
                start_to_close_timeout=params.start_to_close_timeout,
                retry_policy=params.retry_policy, cancellation_type=params.cancellation_type,
                summary=summary)
            return result
        result = await workflow.execute_activity(
            activity_name, request, result_type=result_type, task_queue=params.task_queue,
            schedule_to_close_timeout=params.schedule_to_close_timeout,
            schedule_to_start_timeout=params.schedule_to_start_timeout,
            start_to_close_timeout=params.start_to_close_timeout,
            heartbeat_timeout=params.heartbeat_timeout, retry_policy=params.retry_policy,
            cancellation_type=params.cancellation_type, summary=summary)
        return result

    def _request(self, system_instructions: str | None, input: Any,
                 model_settings: ModelSettings, tools: list[Tool],
                 output_schema: AgentOutputSchemaBase | None, handoffs: list[Handoff],
                 previous_response_id: str | None, conversation_id: str | None,
                 prompt: Any) -> dict[str, Any]:
        try:
            return request_json(
                model_name=self.model_name, system_instructions=system_instructions,
                input=input, model_settings=model_settings, tools=tools,
                output_schema=output_schema, handoffs=handoffs,
                previous_response_id=previous_response_id, conversation_id=conversation_id,
                prompt=prompt)
        except ValueError as error:
            raise AgentsWorkflowError(str(error)) from None

    async def get_response(self, system_instructions: str | None,
                           input: str | list[TResponseInputItem],
                           model_settings: ModelSettings, tools: list[Tool],
                           output_schema: AgentOutputSchemaBase | None,
                           handoffs: list[Handoff], tracing: ModelTracing, *,
                           previous_response_id: str | None = None,
                           conversation_id: str | None = None, prompt: Any = None,
                           **_: Any) -> ModelResponse:
        request = self._request(system_instructions, input, model_settings, tools,
                                output_schema, handoffs, previous_response_id,
                                conversation_id, prompt)
        result = await self._execute(MODEL_ACTIVITY, request,
                                     self._summary(system_instructions, input))
        return response_from_json(result)

    async def stream_response(
            self, system_instructions: str | None, input: str | list[TResponseInputItem],
            model_settings: ModelSettings, tools: list[Tool],
            output_schema: AgentOutputSchemaBase | None, handoffs: list[Handoff],
            tracing: ModelTracing, *, previous_response_id: str | None = None,
            conversation_id: str | None = None, prompt: Any = None, **_: Any,
    ) -> AsyncIterator[Any]:
        # The events went to readers outside the workflow while the activity ran; the
        # activity's result holds them all (the history keeps them, as Temporal's does) and
        # the workflow's stream_events() yields them.
        if self.params.use_local_activity:
            raise AgentsWorkflowError("Runner.run_streamed cannot use local activities "
                                      "(ModelActivityParameters.use_local_activity)")
        request = self._request(system_instructions, input, model_settings, tools,
                                output_schema, handoffs, previous_response_id,
                                conversation_id, prompt)
        request["streaming_topic"] = self.params.streaming_topic
        request["streaming_batch_interval"] = \
            self.params.streaming_batch_interval.total_seconds()
        # A list of events; a dict (the final response) in histories recorded before.
        result = await self._execute(STREAMING_MODEL_ACTIVITY, request,
                                     self._summary(system_instructions, input), object)
        if isinstance(result, dict):
            # Histories recorded before the events were the result hold the final response.
            yield ResponseCompletedEvent(response=Response.model_validate(result["response"]),
                                         sequence_number=0, type="response.completed")
            return
        for event in result:
            yield _STREAM_EVENT.validate_python(event)


def _model_name(agent: Agent[Any]) -> str | None:
    name = agent.model
    if name is not None and not isinstance(name, str):
        raise AgentsWorkflowError(
            f"agent {agent.name!r} has a model object ({type(name).__name__}); inside a "
            "workflow an agent's model must be a model name (a str) or None, so that the "
            "model activity can resolve it on the worker (OpenAIAgentsPlugin(model_provider=...))")
    return name


def prepare_agent(agent: Agent[Any], params: ModelActivityParameters,
                  seen: dict[int, Agent[Any]] | None = None) -> Agent[Any]:
    """A copy of ``agent`` (and of every agent it can hand off to) whose model is a stub."""
    seen = {} if seen is None else seen
    if id(agent) in seen:
        return seen[id(agent)]
    if isinstance(agent.model, ModelStub):
        return agent
    for tool in agent.tools:
        if callable(tool):
            raise AgentsWorkflowError(
                f"agent {agent.name!r} has a tool {tool!r} that is not an Agents SDK tool; "
                "wrap activities with openai_agents.workflow.activity_as_tool(...)")
    copy = dataclasses.replace(agent)
    seen[id(agent)] = copy
    handoffs: list[Agent[Any] | Handoff[Any, Any]] = []
    for handoff in agent.handoffs:
        if isinstance(handoff, Agent):
            handoffs.append(prepare_agent(handoff, params, seen))
        elif isinstance(handoff, Handoff):
            handoffs.append(dataclasses.replace(
                handoff, on_invoke_handoff=_prepared_handoff(handoff.on_invoke_handoff,
                                                             params, seen)))
        else:
            raise AgentsWorkflowError(f"agent {agent.name!r} has a handoff of unknown type "
                                      f"{type(handoff).__name__}")
    copy.model = ModelStub(_model_name(agent), params, agent)
    copy.handoffs = handoffs
    return copy


def _prepared_handoff(invoke: Callable[[RunContextWrapper[Any], str], Awaitable[Any]],
                      params: ModelActivityParameters, seen: dict[int, Agent[Any]]
                      ) -> Callable[[RunContextWrapper[Any], str], Awaitable[Any]]:
    async def on_invoke(context: RunContextWrapper[Any], arguments: str) -> Any:
        return prepare_agent(await invoke(context, arguments), params, seen)

    return on_invoke


def _run_config(value: Any, params: ModelActivityParameters) -> RunConfig:
    if value is None:
        config = RunConfig()
    elif isinstance(value, RunConfig):
        config = value
    elif isinstance(value, dict):
        names = {f.name for f in dataclasses.fields(RunConfig) if f.init}
        unknown = sorted(str(k) for k in value if k not in names)
        if unknown:
            raise TypeError(f"unknown run_config settings: {', '.join(unknown)}")
        config = RunConfig(**value)
    else:
        raise TypeError(f"run_config must be a RunConfig or a dict, got "
                        f"{type(value).__name__}")
    model = config.model
    if model is not None and not isinstance(model, ModelStub):
        if not isinstance(model, str):
            raise AgentsWorkflowError("inside a workflow RunConfig.model must be a model "
                                      f"name (a str), got {type(model).__name__}")
        config = dataclasses.replace(config, model=ModelStub(model, params, None))
    # Tracing would export spans from workflow code (I/O, clock reads on every replay).
    return dataclasses.replace(config, tracing_disabled=True)


def _reraise(error: AgentsException) -> None:
    """An SDK error caused by a workflow failure (an activity that failed for good, ...)
    fails the workflow instead of being retried as a bug in the workflow task."""
    cause = error.__cause__
    if cause is not None and isinstance(cause, FailureError | AgentsWorkflowError):
        raise AgentsWorkflowError(f"Workflow failure exception in Agents Framework: "
                                  f"{error}") from cause


class DurableAgentRunner(AgentRunner):
    """``Runner.run``/``run_streamed`` inside workflows; the SDK's runner elsewhere."""

    def __init__(self, params: ModelActivityParameters) -> None:
        self._runner = DEFAULT_AGENT_RUNNER or AgentRunner()
        self.model_params = params

    def _prepare(self, agent: Agent[Any], kwargs: dict[str, Any]) -> Agent[Any]:
        if agent.mcp_servers:
            for server in agent.mcp_servers:
                if not (is_durable_server(server) or is_temporal_mcp_server(server)):
                    raise AgentsWorkflowError(
                        f"MCP server {server.name!r} of agent {agent.name!r} would be called "
                        "from workflow code; use openai_agents.workflow.temporal_mcp_server("
                        "name) with OpenAIAgentsPlugin(mcp_servers={name: factory}), or "
                        "stateless_mcp_server/stateful_mcp_server with a provider")
        if isinstance(kwargs.get("session"), SQLiteSession):
            raise AgentsWorkflowError("SQLite sessions cannot be used inside a workflow (the "
                                      "workflow's history is its memory)")
        kwargs["run_config"] = _run_config(kwargs.get("run_config"), self.model_params)
        return prepare_agent(agent, self.model_params)

    async def run(self, starting_agent: Agent[Any], input: Any,
                  **kwargs: Any) -> RunResult:
        if not workflow.in_workflow():
            return await self._runner.run(starting_agent, input, **kwargs)
        agent = self._prepare(starting_agent, kwargs)
        try:
            return await self._runner.run(agent, input, **kwargs)
        except AgentsException as error:
            _reraise(error)
            raise

    def run_sync(self, starting_agent: Agent[Any], input: Any, **kwargs: Any) -> RunResult:
        if not workflow.in_workflow():
            return self._runner.run_sync(starting_agent, input, **kwargs)
        raise AgentsWorkflowError("Runner.run_sync cannot run inside a workflow (it would "
                                  "block the workflow's event loop): await Runner.run(...)")

    def run_streamed(self, starting_agent: Agent[Any], input: Any,
                     **kwargs: Any) -> RunResultStreaming:
        if not workflow.in_workflow():
            return self._runner.run_streamed(starting_agent, input, **kwargs)
        if self.model_params.use_local_activity:
            raise AgentsWorkflowError("Runner.run_streamed cannot use local activities "
                                      "(ModelActivityParameters.use_local_activity)")
        agent = self._prepare(starting_agent, kwargs)
        result = self._runner.run_streamed(agent, input, **kwargs)
        events = result.stream_events
        task = result.run_loop_task

        async def stream_events() -> AsyncIterator[Any]:
            try:
                async for event in events():
                    yield event
            except AgentsException as error:
                _reraise(error)
                raise
            if task is not None and task.done() and not task.cancelled():
                failure = task.exception()
                if isinstance(failure, AgentsException):
                    _reraise(failure)
                if failure is not None:
                    raise failure

        result.stream_events = stream_events  # type: ignore[method-assign]
        return result


def default_timeout_check(params: ModelActivityParameters, has_provider: bool) -> None:
    """Temporal's rule: a custom provider needs an explicit model activity timeout."""
    if params.start_to_close_timeout is None and params.schedule_to_close_timeout is None:
        if has_provider:
            raise ValueError("with a model_provider, ModelActivityParameters needs "
                             "start_to_close_timeout or schedule_to_close_timeout")
        params.start_to_close_timeout = timedelta(seconds=60)
