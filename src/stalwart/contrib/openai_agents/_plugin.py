"""``OpenAIAgentsPlugin``: everything a worker needs to run OpenAI Agents durably."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from agents.mcp import MCPServer
from agents.run import get_default_agent_runner, set_default_agent_runner
from agents.tracing import get_trace_provider, set_trace_provider
from agents.tracing.provider import DefaultTraceProvider
from agents.tracing.spans import NoOpSpan
from agents.tracing.traces import NoOpTrace

from agents import ModelProvider

from ... import workflow as _workflow
from ...converter import DataConverter, DefaultPayloadConverter
from ...plugin import SimplePlugin
from ...worker import Worker, WorkerConfig
from ..pydantic import PydanticPayloadConverter
from ._errors import AgentsWorkflowError
from ._mcp import StatefulMCPServerProvider, StatelessMCPServerProvider
from ._mcp_v2 import MCPServerPool
from ._model_activity import ModelActivity
from ._params import ModelActivityParameters
from ._runner import DurableAgentRunner, default_timeout_check
from ._worker_env import AllowAllWorkerEnvVars, snapshot

__all__ = ["OpenAIAgentsPlugin", "OpenAIPayloadConverter"]


class OpenAIPayloadConverter(PydanticPayloadConverter):
    """The payload converter the plugin puts on the client: pydantic for JSON values, so the
    Agents SDK's and OpenAI's pydantic models cross activity and workflow boundaries."""


def _data_converter(converter: DataConverter | None) -> DataConverter:
    if converter is None:
        return DataConverter(payload_converter_class=OpenAIPayloadConverter)
    if converter.payload_converter_class is DefaultPayloadConverter:
        return dataclasses.replace(converter, payload_converter_class=OpenAIPayloadConverter)
    if not isinstance(converter.payload_converter, OpenAIPayloadConverter):
        raise ValueError("OpenAIAgentsPlugin needs the client's payload converter to be an "
                         "OpenAIPayloadConverter (or the default, which it replaces); got "
                         f"{converter.payload_converter_class.__name__}")
    return converter


class _WorkflowSafeTraceProvider(DefaultTraceProvider):
    """The SDK's trace provider while plugin workers run (temporalio installs its own
    ``TemporalTraceProvider`` the same way): outside workflows it is the provider that was
    there before; inside workflows traces and spans are no-ops, so ``agents.trace(...)`` and
    ``Runner.run`` never create the SDK's default provider (its HTTP exporter imports and reads
    files) nor read clocks or UUIDs in workflow code."""

    def __init__(self, previous: Any) -> None:
        super().__init__()
        self._previous = previous

    def register_processor(self, processor: Any) -> None:
        self._previous.register_processor(processor)

    def get_current_trace(self) -> Any:
        return self._previous.get_current_trace()

    def get_current_span(self) -> Any:
        return self._previous.get_current_span()

    def set_processors(self, processors: list[Any]) -> None:
        self._previous.set_processors(processors)

    def set_disabled(self, disabled: bool) -> None:
        self._previous.set_disabled(disabled)

    def create_trace(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if _workflow.in_workflow():
            return NoOpTrace()  # type: ignore[no-untyped-call]
        return self._previous.create_trace(name, *args, **kwargs)

    def create_span(self, span_data: Any, *args: Any, **kwargs: Any) -> Any:
        if _workflow.in_workflow():
            return NoOpSpan(span_data)
        return self._previous.create_span(span_data, *args, **kwargs)

    def force_flush(self) -> None:
        self._previous.force_flush()

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        self._previous.shutdown(*args, **kwargs)


# Workers with the plugin may overlap in one process; the SDK's default runner is one global,
# so the latest worker's runner is installed and the previous one comes back when it stops.
_installed: list[DurableAgentRunner] = []
_original: list[Any] = []
_original_tracing: list[Any] = []


@asynccontextmanager
async def _durable_runner(params: ModelActivityParameters,
                          mcp_pool: MCPServerPool) -> AsyncIterator[None]:
    runner = DurableAgentRunner(params)
    if not _installed:
        _original[:] = [get_default_agent_runner()]
        # Called here, outside workflow code, so the SDK's lazy default provider is made now.
        previous = get_trace_provider()
        _original_tracing[:] = [previous]
        set_trace_provider(_WorkflowSafeTraceProvider(previous))
    _installed.append(runner)
    set_default_agent_runner(runner)
    try:
        async with mcp_pool.open():
            yield
    finally:
        _installed.remove(runner)
        set_default_agent_runner(_installed[-1] if _installed else _original[0])
        if not _installed:
            set_trace_provider(_original_tracing[0])


class OpenAIAgentsPlugin(SimplePlugin):
    """Runs OpenAI Agents SDK agents durably (Temporal's plugin of the same name).

    Give it to ``Client.connect(url, plugins=[...])`` (every worker of the client picks it up)
    or to one ``Worker(..., plugins=[...])``. On each worker it registers the model activities
    (and the MCP providers' activities), sets the client's payload converter to
    :class:`OpenAIPayloadConverter`, makes ``AgentsWorkflowError`` fail workflows, and while
    the worker runs, makes ``agents.Runner.run``/``run_streamed`` durable inside workflows.

    Args:
        model_params: How model calls run as activities.
        model_provider: Resolves model names in the model activity; default: the SDK's
            ``OpenAIProvider`` with its own retries off. With a custom provider,
            ``model_params`` must set a start-to-close or schedule-to-close timeout.
        mcp_server_providers: Stateless/stateful MCP server providers to serve.
        sandbox_clients: Not supported (must be empty).
        register_activities: ``False`` on workers that should run workflows only.
        add_temporal_spans: Accepted for compatibility; tracing is off inside workflows.
        use_otel_instrumentation: Not supported (must be ``False``).
        resolvable_worker_env_vars: Not supported (must be empty).
        mcp_servers: MCP server factories by name, for ``workflow.temporal_mcp_server(name)``;
            a factory takes no parameter or one (the workflow's ``factory_argument``).
        mcp_connection_idle_timeout: How long an idle reusable MCP connection stays open;
            ``None``: until the worker stops; zero: never reused.
    """

    def __init__(
        self, model_params: ModelActivityParameters | None = None,
        model_provider: ModelProvider | None = None,
        mcp_server_providers: Sequence[StatelessMCPServerProvider
                                       | StatefulMCPServerProvider] = (),
        sandbox_clients: Sequence[Any] = (),
        register_activities: bool = True, add_temporal_spans: bool = True,
        use_otel_instrumentation: bool = False,
        resolvable_worker_env_vars: Collection[str] | AllowAllWorkerEnvVars = (), *,
        mcp_servers: Mapping[str, Callable[..., MCPServer]] | None = None,
        mcp_connection_idle_timeout: timedelta | None = timedelta(minutes=5),
    ) -> None:
        if model_params is None:
            model_params = ModelActivityParameters()
        if not isinstance(model_params, ModelActivityParameters):
            raise TypeError("OpenAIAgentsPlugin model_params must be ModelActivityParameters, "
                            f"got {type(model_params).__name__}")
        default_timeout_check(model_params, model_provider is not None)
        if sandbox_clients:
            raise ValueError("OpenAIAgentsPlugin(sandbox_clients=...) is not supported: "
                             "Stalwart does not run Agents SDK sandbox agents")
        # Checked here, as in temporalio, so a bad value fails where the plugin is made.
        resolvable = snapshot(resolvable_worker_env_vars)
        if use_otel_instrumentation:
            raise ValueError("OpenAIAgentsPlugin(use_otel_instrumentation=True) is not "
                             "supported: Agents SDK tracing is off inside Stalwart workflows")
        names = [provider.name for provider in mcp_server_providers]
        if len(names) != len(set(names)):
            raise ValueError(f"two MCP server providers share a name: {sorted(names)}")
        self.model_params = model_params
        self._providers = list(mcp_server_providers)
        self._mcp_pool = MCPServerPool(mcp_servers or {}, mcp_connection_idle_timeout)
        self._model_activity = ModelActivity(model_provider, resolvable)

        def add_activities(existing: Sequence[Callable[..., Any]] | None = None
                           ) -> Sequence[Callable[..., Any]]:
            # Also callable as ``plugin.activities()``, Stalwart's earlier spelling.
            if not register_activities:
                return list(existing or ())
            return [*(existing or ()), *self._own_activities()]

        super().__init__(
            "OpenAIAgentsPlugin", data_converter=_data_converter, activities=add_activities,
            workflow_failure_exception_types=[AgentsWorkflowError],
            run_context=lambda: _durable_runner(self.model_params, self._mcp_pool))

    def _own_activities(self) -> list[Callable[..., Any]]:
        found: list[Callable[..., Any]] = [
            self._model_activity.invoke_model_activity,
            self._model_activity.invoke_model_activity_streaming]
        for provider in self._providers:
            found.extend(provider._get_activities())
        found.extend(self._mcp_pool.activities())
        return found

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        client = config.get("client")
        if client is not None:
            for provider in self._providers:
                if isinstance(provider, StatefulMCPServerProvider):
                    provider._bind(client)
        return super().configure_worker(config)

    def create_worker(self, client: Any, *, task_queue: str, workflows: Sequence[type] = (),
                      activities: Sequence[Callable[..., Any]] = (), **kwargs: Any) -> Any:
        """Stalwart's earlier spelling of ``Worker(client, ..., plugins=[plugin])``."""
        return Worker(client, task_queue=task_queue, workflows=workflows,
                      activities=activities, plugins=[self], **kwargs)
