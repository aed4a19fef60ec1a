"""The model activities: one real model call each, through an Agents SDK ``ModelProvider``.

The workflow sends what the model must see (instructions, input, settings, the tools' and
handoffs' names and schemas) as plain JSON; the activity rebuilds tool and handoff
descriptions that are never invoked here (tools and handoffs run in the workflow) and returns
the model's output items and usage as JSON. Provider errors become ``ApplicationError`` of type
``APIStatusError`` the way Temporal's integration classifies them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Collection
from typing import Any, NoReturn

from agents.agent_output import AgentOutputSchemaBase
from agents.items import TResponseOutputItem
from agents.tool import (
    CodeInterpreterTool,
    FileSearchTool,
    HostedMCPTool,
    ImageGenerationTool,
    LocalShellTool,
    WebSearchTool,
)
from openai import APIStatusError, AsyncOpenAI
from openai.types.responses import ResponseCompletedEvent
from pydantic import TypeAdapter

from agents import (
    FunctionTool,
    Handoff,
    ModelProvider,
    ModelResponse,
    ModelSettings,
    ModelTracing,
    OpenAIProvider,
    Tool,
    Usage,
)

from ... import activity
from ...agents._types import Usage as CallUsage
from ...agents.cost import observe_call
from ...agents.llm import estimate_cost, retry_after
from ...exceptions import ApplicationError
from .._heartbeat import heartbeating
from ._streaming import DEFAULT_TOPIC, StreamPublisher
from ._worker_env import AllowAllWorkerEnvVars, WorkerEnvRefResolver

__all__ = ["MODEL_ACTIVITY", "STREAMING_MODEL_ACTIVITY", "ModelActivity", "raise_for_status",
           "request_json", "response_from_json", "response_json"]

MODEL_ACTIVITY = "invoke_model_activity"
STREAMING_MODEL_ACTIVITY = "invoke_model_activity_streaming"

_OUTPUT_ITEM: TypeAdapter[Any] = TypeAdapter(TResponseOutputItem)
_SETTINGS: TypeAdapter[ModelSettings] = TypeAdapter(ModelSettings)
# Hosted tools run at the provider, so they cross the boundary as their own dataclasses.
_HOSTED_TOOLS: dict[str, type[Any]] = {cls.__name__: cls for cls in (
    FileSearchTool, WebSearchTool, ImageGenerationTool, CodeInterpreterTool, HostedMCPTool)}


# -- JSON on the workflow side ----------------------------------------------------------------

def jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_unset=True)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _tool_json(tool: Tool) -> dict[str, Any]:
    if isinstance(tool, FunctionTool):
        return {"kind": "function", "name": tool.name, "description": tool.description,
                "params_json_schema": tool.params_json_schema,
                "strict_json_schema": tool.strict_json_schema}
    if type(tool).__name__ in _HOSTED_TOOLS and not isinstance(tool, LocalShellTool):
        return {"kind": "hosted", "type": type(tool).__name__,
                "fields": {k: jsonable(v) for k, v in vars(tool).items()
                           if not callable(v)}}
    raise ValueError(f"tool {getattr(tool, 'name', tool)!r} of type {type(tool).__name__} "
                     "cannot run in a Stalwart workflow: use function tools "
                     "(workflow.activity_as_tool, @function_tool) or hosted tools")


def request_json(*, model_name: str | None, system_instructions: str | None, input: Any,
                 model_settings: ModelSettings, tools: list[Tool],
                 output_schema: AgentOutputSchemaBase | None, handoffs: list[Handoff],
                 previous_response_id: str | None, conversation_id: str | None,
                 prompt: Any) -> dict[str, Any]:
    schema = None
    if output_schema is not None and not output_schema.is_plain_text():
        schema = {"name": output_schema.name(), "schema": output_schema.json_schema(),
                  "strict": output_schema.is_strict_json_schema()}
    return {
        "model_name": model_name, "system_instructions": system_instructions,
        "input": jsonable(input),
        "model_settings": {k: v for k, v in model_settings.to_json_dict().items()
                           if v is not None},
        "tools": [_tool_json(tool) for tool in tools], "output_schema": schema,
        # The model sees a handoff only as a tool it may call; switching agents happens in
        # the workflow, in the SDK's runner, replayed like everything else.
        "handoffs": [{"tool_name": h.tool_name, "tool_description": h.tool_description,
                      "input_json_schema": h.input_json_schema,
                      "strict_json_schema": h.strict_json_schema,
                      "agent_name": h.agent_name} for h in handoffs],
        "previous_response_id": previous_response_id, "conversation_id": conversation_id,
        "prompt": jsonable(prompt),
    }


def response_json(response: ModelResponse) -> dict[str, Any]:
    usage = response.usage
    return {"output": [jsonable(item) for item in response.output],
            "usage": {"requests": usage.requests, "input_tokens": usage.input_tokens,
                      "output_tokens": usage.output_tokens,
                      "total_tokens": usage.total_tokens},
            "response_id": response.response_id}


def response_from_json(data: dict[str, Any]) -> ModelResponse:
    usage = data.get("usage") or {}
    return ModelResponse(
        output=[_OUTPUT_ITEM.validate_python(item) for item in data["output"]],
        usage=Usage(requests=usage.get("requests", 0),
                    input_tokens=usage.get("input_tokens", 0),
                    output_tokens=usage.get("output_tokens", 0),
                    total_tokens=usage.get("total_tokens", 0)),
        response_id=data.get("response_id"))


# -- rebuilding descriptions in the activity --------------------------------------------------

async def _tool_runs_in_workflow(ctx: Any, arguments: str) -> str:
    raise RuntimeError("tools run in the workflow, not in the model activity")


async def _handoff_runs_in_workflow(ctx: Any, arguments: str) -> Any:
    raise RuntimeError("handoffs are carried out by the workflow, not the model activity")


def _tool_from_json(data: dict[str, Any], env: WorkerEnvRefResolver) -> Tool:
    if data.get("kind") == "hosted":
        fields = env.tool_fields(data["type"], data["fields"])
        return _HOSTED_TOOLS[data["type"]](**fields)  # type: ignore[no-any-return]
    return FunctionTool(name=data["name"], description=data["description"],
                        params_json_schema=data["params_json_schema"],
                        on_invoke_tool=_tool_runs_in_workflow,
                        strict_json_schema=data["strict_json_schema"])


def _handoff_from_json(data: dict[str, Any]) -> Handoff[Any, Any]:
    return Handoff(tool_name=data["tool_name"], tool_description=data["tool_description"],
                   input_json_schema=data["input_json_schema"],
                   on_invoke_handoff=_handoff_runs_in_workflow, agent_name=data["agent_name"],
                   strict_json_schema=data.get("strict_json_schema", True))


class _OutputSchema(AgentOutputSchemaBase):
    """A JSON output schema carried across the activity boundary (only its description is
    needed here: the workflow's runner validates the model's answer)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def is_plain_text(self) -> bool:
        return False

    def name(self) -> str:
        return str(self._data.get("name", "output"))

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = self._data.get("schema") or {}
        return schema

    def is_strict_json_schema(self) -> bool:
        return bool(self._data.get("strict"))

    def validate_json(self, json_str: str) -> Any:
        return json.loads(json_str)


# -- provider errors --------------------------------------------------------------------------

def raise_for_status(error: APIStatusError) -> NoReturn:
    """408, 409, 429 and 5xx are retried (``Retry-After`` sets the next delay); other statuses
    fail at once, unless the provider says otherwise with ``x-should-retry``."""
    headers = error.response.headers
    delay = retry_after(headers)
    status = error.response.status_code
    should_retry = headers.get("x-should-retry")
    retryable = should_retry == "true" or (
        should_retry != "false" and (status in (408, 409, 429) or status >= 500))
    # Temporal's wording; the provider's own message is the cause's.
    raise ApplicationError(
        f"{'Retryable' if retryable else 'Non retryable'} OpenAI status code: {status}",
        type=APIStatusError.__name__, non_retryable=not retryable,
        next_retry_delay=delay) from error


# -- the activities ---------------------------------------------------------------------------

class ModelActivity:
    """The model activities, bound to a model provider.

    Args:
        model_provider: Resolves model names; default ``OpenAIProvider`` with the SDK's own
            retries off (the activity's retry policy is the only one).
    """

    def __init__(self, model_provider: ModelProvider | None = None,
                 resolvable_worker_env_vars: Collection[str] | AllowAllWorkerEnvVars = ()
                 ) -> None:
        self._provider = model_provider
        self._env = WorkerEnvRefResolver(resolvable_worker_env_vars)

    def _model_provider(self) -> ModelProvider:
        if self._provider is None:
            self._provider = OpenAIProvider(openai_client=AsyncOpenAI(max_retries=0))
        return self._provider

    def _call_arguments(self, request: dict[str, Any]) -> dict[str, Any]:
        info = activity.info()
        settings = dict(request.get("model_settings") or {})
        # The provider may use the key to drop a duplicate of a call whose answer was lost
        # with a killed worker; the attempt says which try this is.
        settings["extra_headers"] = {**(settings.get("extra_headers") or {}),
                                     "Idempotency-Key": info.idempotency_key,
                                     "X-Stalwart-Attempt": str(info.attempt)}
        schema = request.get("output_schema")
        return {
            "system_instructions": request.get("system_instructions"),
            # Validated, not splatted: nested settings (reasoning, ...) become their models.
            "input": request["input"], "model_settings": _SETTINGS.validate_python(settings),
            "tools": [_tool_from_json(t, self._env) for t in request.get("tools", [])],
            "output_schema": _OutputSchema(schema) if schema else None,
            "handoffs": [_handoff_from_json(h) for h in request.get("handoffs", [])],
            "tracing": ModelTracing.DISABLED,
            "previous_response_id": request.get("previous_response_id"),
            "conversation_id": request.get("conversation_id"),
            "prompt": request.get("prompt"),
        }

    @activity.defn(name=MODEL_ACTIVITY)
    async def invoke_model_activity(self, request: dict[str, Any]) -> dict[str, Any]:
        """One model call; returns the output items and usage."""
        model = self._model_provider().get_model(request.get("model_name"))
        arguments = self._call_arguments(request)

        async def call() -> ModelResponse:
            return await model.get_response(**arguments)

        try:
            response = await heartbeating(call)
        except APIStatusError as error:
            raise_for_status(error)
        data = response_json(response)
        _price(data["usage"], _model_name(model, request))
        return data

    @activity.defn(name=STREAMING_MODEL_ACTIVITY)
    async def invoke_model_activity_streaming(self, request: dict[str, Any]
                                              ) -> list[dict[str, Any]]:
        """One streamed model call: every event is published for readers outside the
        workflow while the call runs, and the call's events are its result (as Temporal's
        integration returns them), which the workflow's ``stream_events()`` yields."""
        model = self._model_provider().get_model(request.get("model_name"))
        arguments = self._call_arguments(request)
        info = activity.info()
        interval = float(request.get("streaming_batch_interval", 0.1))
        publisher = StreamPublisher(topic=request.get("streaming_topic") or DEFAULT_TOPIC,
                                    call=info.activity_id, interval=interval)

        async def stream() -> tuple[list[dict[str, Any]], Any]:
            collected: list[dict[str, Any]] = []
            completed: Any = None
            events: AsyncIterator[Any] = model.stream_response(**arguments)
            async for event in events:
                data = jsonable(event)
                collected.append(data)
                await publisher.publish(data)
                if isinstance(event, ResponseCompletedEvent):
                    completed = event.response
            if completed is None:
                raise ApplicationError("the model's stream ended without a response.completed "
                                       "event", type="IncompleteStream")
            return collected, jsonable(completed)

        try:
            collected, response = await heartbeating(stream)
        except BaseException as error:
            # Readers learn the attempt is void; a retry, if any, streams as a new attempt.
            await asyncio.shield(publisher.close(failed=f"{type(error).__name__}: {error}"))
            if isinstance(error, APIStatusError):
                raise_for_status(error)
            raise
        await publisher.close()
        usage = response.get("usage") if isinstance(response, dict) else None
        if isinstance(usage, dict):
            _price(usage, _model_name(model, request))
        return collected


def _model_name(model: Any, request: dict[str, Any]) -> str:
    return str(request.get("model_name") or getattr(model, "model", "") or "unknown")


def _price(usage: dict[str, Any], model_name: str) -> None:
    """Adds the model, its estimated cost and the cached tokens to a call's usage (recorded in
    the activity's result) and counts the call in this process's metrics."""
    details = usage.get("input_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    call = CallUsage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0),
                     calls=1, cached_input_tokens=cached)
    cost = estimate_cost(model_name, call.input_tokens, call.output_tokens,
                         cached_input_tokens=cached, provider="openai")
    if cost is None:
        call.unpriced_calls = 1
    else:
        call.cost_usd = cost
    usage.update(model=model_name, cost_usd=call.cost_usd, unpriced_calls=call.unpriced_calls,
                 cached_input_tokens=cached)
    observe_call(activity.info().workflow_type or "", model_name, call)
