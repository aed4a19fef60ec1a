"""Testing helpers for agents on Stalwart (mirrors
``temporalio.contrib.openai_agents.testing``): scripted models and a plugin built for them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from agents.agent_output import AgentOutputSchemaBase
from agents.items import TResponseOutputItem
from agents.mcp import MCPServer
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from agents import (
    Handoff,
    Model,
    ModelProvider,
    ModelResponse,
    ModelSettings,
    ModelTracing,
    Tool,
    Usage,
)

from ...client import Client
from ._mcp import StatefulMCPServerProvider, StatelessMCPServerProvider
from ._params import ModelActivityParameters
from ._plugin import OpenAIAgentsPlugin

__all__ = ["AgentEnvironment", "ResponseBuilders", "TestModel", "TestModelProvider"]


class ResponseBuilders:
    """Builds the ``ModelResponse`` objects a scripted model returns."""

    @staticmethod
    def model_response(output: TResponseOutputItem) -> ModelResponse:
        return ModelResponse(output=[output], usage=Usage(), response_id=None)

    @staticmethod
    def response_output_message(text: str) -> ResponseOutputMessage:
        return ResponseOutputMessage(
            id="", content=[ResponseOutputText(text=text, annotations=[], type="output_text")],
            role="assistant", status="completed", type="message")

    @staticmethod
    def tool_call(arguments: str, name: str, *, call_id: str | None = None,
                  item_id: str | None = None) -> ModelResponse:
        return ResponseBuilders.model_response(ResponseFunctionToolCall(
            arguments=arguments, call_id=call_id or "call", name=name, type="function_call",
            id=item_id or "id", status="completed"))

    @staticmethod
    def output_message(text: str) -> ModelResponse:
        return ResponseBuilders.model_response(ResponseBuilders.response_output_message(text))


class TestModelProvider(ModelProvider):
    """Answers every model name with the one model it was given."""

    __test__ = False

    def __init__(self, model: Model) -> None:
        self._model = model

    def get_model(self, model_name: str | None) -> Model:
        return self._model


class TestModel(Model):
    """A model whose answers come from ``fn`` (one call per model request)."""

    __test__ = False

    def __init__(self, fn: Callable[[], ModelResponse]) -> None:
        self.fn = fn

    async def get_response(self, system_instructions: str | None, input: Any,
                           model_settings: ModelSettings, tools: list[Tool],
                           output_schema: AgentOutputSchemaBase | None,
                           handoffs: list[Handoff], tracing: ModelTracing,
                           **kwargs: Any) -> ModelResponse:
        return self.fn()

    def stream_response(self, system_instructions: str | None, input: Any,
                        model_settings: ModelSettings, tools: list[Tool],
                        output_schema: AgentOutputSchemaBase | None, handoffs: list[Handoff],
                        tracing: ModelTracing, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("TestModel does not stream; test streamed runs against a "
                                  "local HTTP stand-in (stalwart.agents.testing.FakeLLMServer)")

    @staticmethod
    def returning_responses(responses: list[ModelResponse]) -> TestModel:
        """A model that answers with ``responses``, in order."""
        remaining = iter(responses)
        return TestModel(lambda: next(remaining))


class AgentEnvironment:
    """An ``async with`` block that builds an :class:`OpenAIAgentsPlugin` for tests (with a
    scripted ``model``) and applies it to clients::

        async with AgentEnvironment(model=TestModel.returning_responses([...])) as env:
            client = env.applied_on_client(client)
    """

    __test__ = False

    def __init__(
        self, model_params: ModelActivityParameters | None = None,
        model_provider: ModelProvider | None = None, model: Model | None = None,
        mcp_server_providers: Sequence[StatelessMCPServerProvider
                                       | StatefulMCPServerProvider] = (),
        register_activities: bool = True, add_temporal_spans: bool = True,
        use_otel_instrumentation: bool = False, resolvable_worker_env_vars: Any = (), *,
        mcp_servers: Mapping[str, Callable[..., MCPServer]] | None = None,
        mcp_connection_idle_timeout: timedelta | None = timedelta(minutes=5),
    ) -> None:
        self._model_params = model_params
        self._model_provider = model_provider if model_provider is not None else (
            TestModelProvider(model) if model is not None else None)
        self._mcp_server_providers = mcp_server_providers
        self._register_activities = register_activities
        self._add_temporal_spans = add_temporal_spans
        self._use_otel_instrumentation = use_otel_instrumentation
        self._resolvable_worker_env_vars = resolvable_worker_env_vars
        self._mcp_servers = mcp_servers
        self._mcp_connection_idle_timeout = mcp_connection_idle_timeout
        self._plugin: OpenAIAgentsPlugin | None = None

    async def __aenter__(self) -> AgentEnvironment:
        self._plugin = OpenAIAgentsPlugin(
            model_params=self._model_params, model_provider=self._model_provider,
            mcp_server_providers=self._mcp_server_providers,
            register_activities=self._register_activities,
            add_temporal_spans=self._add_temporal_spans,
            use_otel_instrumentation=self._use_otel_instrumentation,
            resolvable_worker_env_vars=self._resolvable_worker_env_vars,
            mcp_servers=self._mcp_servers,
            mcp_connection_idle_timeout=self._mcp_connection_idle_timeout)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        pass

    def applied_on_client(self, client: Client) -> Client:
        """A new client on the same store with the plugin added to ``client``'s plugins."""
        config = client.config()
        return Client(config["store"], namespace=config["namespace"],
                      data_converter=config["data_converter"], identity=config["identity"],
                      interceptors=config["interceptors"],
                      plugins=[*config["plugins"], self.openai_agents_plugin])

    @property
    def openai_agents_plugin(self) -> OpenAIAgentsPlugin:
        if self._plugin is None:
            raise RuntimeError("enter the AgentEnvironment (async with) before using its plugin")
        return self._plugin
