"""Run OpenAI Agents SDK agents durably (mirrors ``temporalio.contrib.openai_agents``).

The SDK is the PyPI package ``openai-agents``; its import name is ``agents``
(``from agents import Agent, Runner``; there is no ``openai_agents`` module). Install with
``pip install 'stalwart[openai-agents]'``.

Inside a workflow, :meth:`StalwartRunner.run` (or ``TemporalRunner.run``, which returns the
final output as text) runs an
``agents.Agent`` with a model stub: every model call becomes the ``invoke_model_activity``
activity, recorded in history, and never sent again once recorded. Tools made with
:func:`activity_as_tool` run as their own activities. Register the model activity on a worker
with :class:`OpenAIAgentsPlugin`::

    plugin = OpenAIAgentsPlugin(model_params=ModelActivityParameters(
        start_to_close_timeout=timedelta(seconds=60)))
    worker = Worker(client, task_queue="agents", workflows=[MyAgentWorkflow],
                    activities=[*plugin.activities(), search_documents])

Differences from Temporal's integration: hosted tools (web search, file search, computer
use), MCP servers and ``Runner.run_streamed`` are not supported inside workflows;
tracing is disabled inside workflows. Function tools whose code runs in the workflow (plain
``@function_tool``) must be deterministic; use :func:`activity_as_tool` for anything with side
effects.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from ... import activity, workflow
from ...agents.llm import classify_error
from ...common import RetryPolicy
from ...exceptions import ApplicationError

try:
    from agents.agent_output import AgentOutputSchemaBase
    from agents.items import TResponseInputItem, TResponseOutputItem
    from agents.tool_context import ToolContext
    from pydantic import TypeAdapter

    from agents import (
        Agent,
        FunctionTool,
        Handoff,
        Model,
        ModelProvider,
        ModelResponse,
        ModelSettings,
        ModelTracing,
        RunConfig,
        Runner,
        RunResult,
        Tool,
        Usage,
    )
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("stalwart.contrib.openai_agents needs the OpenAI Agents SDK: "
                      "pip install 'stalwart[openai-agents]' (PyPI package 'openai-agents', "
                      "imported as 'agents')") from error

__all__ = [
    "MODEL_ACTIVITY",
    "FinalOutput",
    "ModelActivity",
    "ModelActivityParameters",
    "OpenAIAgentsPlugin",
    "StalwartRunner",
    "TemporalRunner",
    "activity_as_tool",
]

MODEL_ACTIVITY = "invoke_model_activity"


@dataclasses.dataclass
class ModelActivityParameters:
    """Options of the model activity (Temporal's names)."""

    task_queue: str | None = None
    schedule_to_close_timeout: timedelta | None = None
    schedule_to_start_timeout: timedelta | None = None
    start_to_close_timeout: timedelta | None = timedelta(seconds=60)
    heartbeat_timeout: timedelta | None = None
    retry_policy: RetryPolicy | None = None
    summary_override: str | None = None
    use_local_activity: bool = False  # accepted for compatibility; always a regular activity


_default_params = ModelActivityParameters()


# -- serialization between the workflow and the model activity ---------------------------------

_OUTPUT_ITEM: TypeAdapter[Any] = TypeAdapter(TResponseOutputItem)


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_unset=True)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _tool_json(tool: Tool) -> dict[str, Any]:
    if not isinstance(tool, FunctionTool):
        raise ApplicationError(f"tool {getattr(tool, 'name', tool)!r} of type "
                               f"{type(tool).__name__} cannot run in a Stalwart workflow; use "
                               "function tools (activity_as_tool)", type="UnsupportedTool",
                               non_retryable=True)
    return {"name": tool.name, "description": tool.description,
            "params_json_schema": tool.params_json_schema,
            "strict_json_schema": tool.strict_json_schema}


async def _never_called(ctx: Any, arguments: str) -> str:
    raise RuntimeError("tools run in the workflow, not in the model activity")


def _tool_from_json(data: dict[str, Any]) -> FunctionTool:
    return FunctionTool(name=data["name"], description=data["description"],
                        params_json_schema=data["params_json_schema"],
                        on_invoke_tool=_never_called,
                        strict_json_schema=data["strict_json_schema"])


def _usage_json(usage: Usage) -> dict[str, Any]:
    return {"requests": usage.requests, "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens, "total_tokens": usage.total_tokens}


# -- the activity ---------------------------------------------------------------------------

class ModelActivity:
    """The ``invoke_model_activity`` activity: one real model call through a provider.

    Args:
        model_provider: Resolves model names; default ``agents.OpenAIProvider()`` (from the
            environment, Responses API). For an OpenAI-compatible server without the
            Responses API use ``OpenAIProvider(openai_client=..., use_responses=False)``.
    """

    def __init__(self, model_provider: ModelProvider | None = None) -> None:
        self._provider = model_provider

    def _model_provider(self) -> ModelProvider:
        if self._provider is None:
            from agents import OpenAIProvider

            self._provider = OpenAIProvider()
        return self._provider

    @activity.defn(name=MODEL_ACTIVITY)
    async def invoke_model_activity(self, request: dict[str, Any]) -> dict[str, Any]:
        model = self._model_provider().get_model(request.get("model_name"))
        settings = ModelSettings(**request.get("model_settings") or {})
        schema = request.get("output_schema")
        try:
            response = await model.get_response(
                system_instructions=request.get("system_instructions"),
                input=request["input"], model_settings=settings,
                tools=[_tool_from_json(t) for t in request.get("tools", [])],
                output_schema=_OutputSchema(schema) if schema else None,
                handoffs=[_handoff_from_json(h) for h in request.get("handoffs", [])],
                tracing=ModelTracing.DISABLED,
                previous_response_id=request.get("previous_response_id"),
                conversation_id=request.get("conversation_id"), prompt=None)
        except ApplicationError:
            raise
        except Exception as error:
            raise classify_error(error, "model") from error
        return {"output": [_jsonable(item) for item in response.output],
                "usage": _usage_json(response.usage), "response_id": response.response_id}


def _handoff_from_json(data: dict[str, Any]) -> Handoff:
    """A handoff as the model needs to see it (name, description, schema); never invoked here:
    the workflow's runner acts on the model's choice."""
    async def not_here(*_: Any) -> Any:
        raise RuntimeError("handoffs are carried out by the workflow, not the model activity")

    return Handoff(tool_name=data["tool_name"], tool_description=data["tool_description"],
                   input_json_schema=data["input_json_schema"], on_invoke_handoff=not_here,
                   agent_name=data["agent_name"],
                   strict_json_schema=data.get("strict_json_schema", True))


class _OutputSchema(AgentOutputSchemaBase):
    """A JSON output schema carried through the activity boundary."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def is_plain_text(self) -> bool:
        return bool(self._data.get("plain_text"))

    def name(self) -> str:
        return str(self._data.get("name", "output"))

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = self._data.get("schema") or {}
        return schema

    def is_strict_json_schema(self) -> bool:
        return bool(self._data.get("strict"))

    def validate_json(self, json_str: str) -> Any:
        return json.loads(json_str)


# -- the workflow side --------------------------------------------------------------------------

class _ModelStub(Model):
    """Stands in for the model inside the workflow: each call is the model activity."""

    def __init__(self, model_name: str | None, params: ModelActivityParameters) -> None:
        self._model_name = model_name
        self._params = params

    async def get_response(self, system_instructions: str | None,
                           input: str | list[TResponseInputItem],
                           model_settings: ModelSettings, tools: list[Tool],
                           output_schema: AgentOutputSchemaBase | None,
                           handoffs: list[Handoff], tracing: ModelTracing, *,
                           previous_response_id: str | None = None,
                           conversation_id: str | None = None, prompt: Any = None,
                           **_: Any) -> ModelResponse:
        schema = None
        if output_schema is not None and not output_schema.is_plain_text():
            schema = {"name": output_schema.name(), "schema": output_schema.json_schema(),
                      "strict": output_schema.is_strict_json_schema(), "plain_text": False}
        request = {
            "model_name": self._model_name, "system_instructions": system_instructions,
            "input": _jsonable(input),
            "model_settings": {k: v for k, v in model_settings.to_json_dict().items()
                               if v is not None},
            "tools": [_tool_json(tool) for tool in tools], "output_schema": schema,
            # The model only sees a handoff as a tool it may call; switching agents happens
            # here in the workflow, in the SDK's runner, replayed like everything else.
            "handoffs": [{"tool_name": h.tool_name, "tool_description": h.tool_description,
                          "input_json_schema": h.input_json_schema,
                          "strict_json_schema": h.strict_json_schema,
                          "agent_name": h.agent_name} for h in handoffs],
            "previous_response_id": previous_response_id, "conversation_id": conversation_id,
        }
        params = self._params
        result: dict[str, Any] = await workflow.execute_activity(
            MODEL_ACTIVITY, request, result_type=dict, task_queue=params.task_queue,
            schedule_to_close_timeout=params.schedule_to_close_timeout,
            schedule_to_start_timeout=params.schedule_to_start_timeout,
            start_to_close_timeout=params.start_to_close_timeout,
            heartbeat_timeout=params.heartbeat_timeout, retry_policy=params.retry_policy,
            summary=params.summary_override or f"model {self._model_name or 'default'}")
        usage = result["usage"]
        return ModelResponse(
            output=[_OUTPUT_ITEM.validate_python(item) for item in result["output"]],
            usage=Usage(requests=usage["requests"], input_tokens=usage["input_tokens"],
                        output_tokens=usage["output_tokens"],
                        total_tokens=usage["total_tokens"]),
            response_id=result.get("response_id"))

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise ApplicationError("Runner.run_streamed is not supported in Stalwart workflows; "
                               "use Runner.run", type="UnsupportedFeature", non_retryable=True)


class _StubProvider(ModelProvider):
    def __init__(self, params: ModelActivityParameters) -> None:
        self._params = params

    def get_model(self, model_name: str | None) -> Model:
        return _ModelStub(model_name, self._params)


class StalwartRunner:
    """Runs an ``agents.Agent`` durably from workflow code.

    Outside a workflow it falls back to the SDK's ``Runner.run``.
    """

    @staticmethod
    async def run(starting_agent: Agent[Any], input: str | list[TResponseInputItem], *,
                  model_params: ModelActivityParameters | None = None,
                  run_config: RunConfig | None = None, **kwargs: Any) -> RunResult:
        if not workflow.in_workflow():
            return await Runner.run(starting_agent, input, run_config=run_config, **kwargs)
        config = run_config or RunConfig()
        config = dataclasses.replace(
            config, model_provider=_StubProvider(model_params or _default_params),
            tracing_disabled=True)
        # The SDK reads the clock and draws ids for its bookkeeping (spans, item ids); none of
        # that decides which commands the workflow issues, so it may run unguarded.
        with workflow.unsafe.sandbox_unrestricted():
            return await Runner.run(starting_agent, input, run_config=config, **kwargs)


class FinalOutput(str):
    """The agent's final output as text, with the full ``RunResult`` at :attr:`run_result`
    (``run_result`` lives only in the workflow's memory; the text is what gets recorded)."""

    run_result: RunResult

    @staticmethod
    def of(result: RunResult) -> FinalOutput:
        output = result.final_output
        text = output if isinstance(output, str) else json.dumps(_jsonable(output), default=str)
        value = FinalOutput(text)
        value.run_result = result
        return value


class TemporalRunner:
    """The name the Temporal-era examples use: ``await TemporalRunner.run(agent, topic)``.

    Like :class:`StalwartRunner` but returns :class:`FinalOutput`, the final output as a
    ``str``, so a workflow declared ``-> str`` can return it as is.
    """

    @staticmethod
    async def run(starting_agent: Agent[Any], input: str | list[TResponseInputItem],
                  **kwargs: Any) -> FinalOutput:
        return FinalOutput.of(await StalwartRunner.run(starting_agent, input, **kwargs))


def activity_as_tool(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None,
    task_queue: str | None = None, schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = timedelta(minutes=5),
    heartbeat_timeout: timedelta | None = None, retry_policy: RetryPolicy | None = None,
    strict_json_schema: bool = False,
) -> FunctionTool:
    """An ``agents.FunctionTool`` that runs the activity ``fn`` when the model calls it.

    The schema comes from ``fn``'s type hints and its description from the docstring; the
    call is a durable activity with these timeouts and retry policy.
    """
    from ...agents.tools import activity_as_tool as describe

    spec = describe(fn, name=name, description=description)
    options: dict[str, Any] = {
        "task_queue": task_queue, "schedule_to_close_timeout": schedule_to_close_timeout,
        "schedule_to_start_timeout": schedule_to_start_timeout,
        "start_to_close_timeout": start_to_close_timeout,
        "heartbeat_timeout": heartbeat_timeout, "retry_policy": retry_policy}

    async def invoke(ctx: ToolContext[Any], arguments: str) -> Any:
        data = json.loads(arguments or "{}")
        args = []
        for param in spec.param_names:
            if param not in data:
                break
            args.append(data[param])
        result = await workflow.execute_activity(fn, args=args, summary=f"tool {spec.name}",
                                                 **options)
        if result is None or isinstance(result, str):
            return result or ""
        return json.dumps(result, default=str)

    return FunctionTool(name=spec.name, description=spec.description,
                        params_json_schema=spec.parameters, on_invoke_tool=invoke,
                        strict_json_schema=strict_json_schema)


class OpenAIAgentsPlugin:
    """Registers the model activity on a worker and sets the model activity options.

    Pass ``plugin.activities()`` to ``Worker(activities=[...])`` (Stalwart's ``Worker`` has no
    ``plugins=`` argument), or build the worker with :meth:`create_worker`.

    Args:
        model_params: Defaults for every model activity ``StalwartRunner`` schedules.
        model_provider: Resolves model names in the activity (see :class:`ModelActivity`).
    """

    def __init__(self, model_params: ModelActivityParameters | None = None,
                 model_provider: ModelProvider | None = None) -> None:
        global _default_params
        self.model_params = model_params or ModelActivityParameters()
        _default_params = self.model_params
        self._activity = ModelActivity(model_provider)

    def activities(self) -> list[Callable[..., Any]]:
        return [self._activity.invoke_model_activity]

    def create_worker(self, client: Any, *, task_queue: str, workflows: Sequence[type] = (),
                      activities: Sequence[Callable[..., Any]] = (), **kwargs: Any) -> Any:
        from ...worker import Worker

        return Worker(client, task_queue=task_queue, workflows=workflows,
                      activities=[*self.activities(), *activities], **kwargs)
