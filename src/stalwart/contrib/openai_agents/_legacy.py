"""Stalwart's earlier spellings, kept working: ``StalwartRunner``/``TemporalRunner`` (explicit
durable runners) and the top-level ``activity_as_tool`` (name and description overridable,
five-minute default timeout). New code writes ``agents.Runner.run`` with the plugin on the
worker, and ``workflow.activity_as_tool``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from agents.items import TResponseInputItem
from agents.run import get_default_agent_runner
from agents.tool_context import ToolContext

from agents import Agent, FunctionTool, RunConfig, Runner, RunResult

from ... import workflow
from ...agents.tools import activity_as_tool as describe
from ...common import RetryPolicy
from ._model_activity import jsonable as _jsonable
from ._params import ModelActivityParameters
from ._runner import DurableAgentRunner

__all__ = ["FinalOutput", "StalwartRunner", "TemporalRunner", "activity_as_tool"]

_default_params = ModelActivityParameters()


class StalwartRunner:
    """Runs an ``agents.Agent`` durably from workflow code, with explicit model activity
    options; outside a workflow it is the SDK's ``Runner.run``."""

    @staticmethod
    async def run(starting_agent: Agent[Any], input: str | list[TResponseInputItem], *,
                  model_params: ModelActivityParameters | None = None,
                  run_config: RunConfig | None = None, **kwargs: Any) -> RunResult:
        if not workflow.in_workflow():
            return await Runner.run(starting_agent, input, run_config=run_config, **kwargs)
        if model_params is None:
            # The plugin's options, when it runs this worker.
            installed = get_default_agent_runner()
            model_params = installed.model_params \
                if isinstance(installed, DurableAgentRunner) else _default_params
        runner = DurableAgentRunner(model_params)
        return await runner.run(starting_agent, input, run_config=run_config, **kwargs)


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
