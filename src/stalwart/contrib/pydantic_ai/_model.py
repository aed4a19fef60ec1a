"""Model requests as activities.

Inside a workflow the agent's model is a :class:`ActivityModel`: each request sends the
messages, settings and request parameters (as JSON) to the agent's model activity, which makes
the one real provider call and returns the response. The workflow's history keeps the
response, so a replayed or recovered run reads it back instead of asking the provider again.
Outside a workflow the wrapped model is called directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from pydantic import TypeAdapter
from pydantic_ai._run_context import get_current_run_context
from pydantic_ai.exceptions import ModelAPIError, UserError
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse, infer_model
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext
from pydantic_core import to_jsonable_python

from ... import activity, workflow
from ...workflow import ActivityConfig
from .._heartbeat import heartbeating
from ._errors import model_error_to_application_error, rebuilt_model_errors

__all__ = ["ActivityModel", "model_activity"]

_PARAMETERS: TypeAdapter[ModelRequestParameters] = TypeAdapter(ModelRequestParameters)
_RESPONSE: TypeAdapter[ModelResponse] = TypeAdapter(ModelResponse)


class _Unset(Model):
    """Stands for 'no model on the agent': a run must then name one."""

    async def request(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                      model_request_parameters: ModelRequestParameters) -> ModelResponse:
        raise UserError("the agent has no model: give it one, or pass TemporalAgent(models=...)")

    @property
    def model_name(self) -> str:
        return "unset"

    @property
    def system(self) -> str:
        return "unset"


class ActivityModel(WrapperModel):
    """The model of a ``TemporalAgent`` run inside a workflow.

    Args:
        wrapped: The agent's own model (``None``: the first of ``models``).
        models: Further models a run may pick by key (``run(model="key")``); the key crosses
            the activity boundary, the worker's instance makes the call.
        activity_name: Name of the model activity.
        config: Options of the model activity.
        non_retryable_errors: Model errors no retry can fix.
    """

    def __init__(self, wrapped: Model | None, *, default_name: str | None = None,
                 models: Mapping[str, Model],
                 activity_name: str, config: ActivityConfig,
                 non_retryable_errors: tuple[type[ModelAPIError], ...]) -> None:
        default: Model | None = wrapped
        if default is None and models:
            default = next(iter(models.values()))
        super().__init__(default if default is not None else _Unset())
        self._models = dict(models)
        self._activity_name = activity_name
        self._config = config
        self._non_retryable = non_retryable_errors
        self._key: str | None = None
        self._default_name = default_name if wrapped is None else None
        self._inferred: dict[str, Model] = {}
        self.activity = self._make_activity()

    # -- run-time model choice ------------------------------------------------------------

    def resolve(self, model: Model | str | None) -> str | None:
        """The key of a model given to ``run(model=...)`` inside a workflow."""
        if model is None:
            return None
        if isinstance(model, str):
            if model in self._models:
                return model
            # A provider string: the worker builds it (``infer_model``) in the activity.
            return model
        for key, known in self._models.items():
            if known is model:
                return key
        raise UserError(f"model {model!r} was passed to run() inside a workflow but is not one "
                        "of TemporalAgent(models=...): a Model object cannot cross to the "
                        "activity; register it by key, or pass a provider string")

    @asynccontextmanager
    async def using(self, key: str | None) -> AsyncIterator[None]:
        previous, self._key = self._key, key
        try:
            yield
        finally:
            self._key = previous

    def _model_for(self, key: str | None) -> Model:
        if key is None:
            if self._default_name is None:
                return self.wrapped
            key = self._default_name
        if key in self._models:
            return self._models[key]
        if key not in self._inferred:
            # Built on first use, in the activity: a provider reads its credentials then.
            self._inferred[key] = infer_model(key)
        return self._inferred[key]

    # -- the workflow side ----------------------------------------------------------------

    async def request(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                      model_request_parameters: ModelRequestParameters) -> ModelResponse:
        if not workflow.in_workflow():
            return await self._model_for(self._key).request(
                messages, model_settings, model_request_parameters)
        if get_current_run_context() is None:
            raise UserError("a TemporalAgent's model can only be called by agent.run() inside "
                            "a workflow")
        request = {
            "model_key": self._key,
            "messages": ModelMessagesTypeAdapter.dump_python(messages, mode="json"),
            "model_settings": to_jsonable_python(model_settings),
            "parameters": _PARAMETERS.dump_python(model_request_parameters, mode="json"),
        }
        name = self._key or self._default_name or self.model_name
        config: dict[str, Any] = {"summary": f"request model: {name}", **self._config}
        with rebuilt_model_errors(name):
            result = await workflow.execute_activity(
                self._activity_name, args=[request], result_type=dict, **config)
        return _RESPONSE.validate_python(result)

    @asynccontextmanager
    async def request_stream(self, messages: list[ModelMessage],
                             model_settings: ModelSettings | None,
                             model_request_parameters: ModelRequestParameters,
                             run_context: RunContext[Any] | None = None,
                             ) -> AsyncIterator[StreamedResponse]:
        if workflow.in_workflow():
            raise UserError("streaming model requests are not supported inside a Stalwart "
                            "workflow: use agent.run() (each request is one activity)")
        async with self._model_for(self._key).request_stream(
                messages, model_settings, model_request_parameters, run_context) as stream:
            yield stream

    # -- the activity ---------------------------------------------------------------------

    def _make_activity(self) -> Callable[..., Any]:
        async def model_request(request: dict[str, Any]) -> dict[str, Any]:
            model = self._model_for(request.get("model_key"))
            messages = ModelMessagesTypeAdapter.validate_python(request["messages"])
            parameters = _PARAMETERS.validate_python(request["parameters"])
            settings = dict(request.get("model_settings") or {})
            info = activity.info()
            # The provider may use the key to drop a duplicate of a call whose answer was lost
            # with a killed worker; the attempt says which try this is.
            settings["extra_headers"] = {**(settings.get("extra_headers") or {}),
                                         "Idempotency-Key": info.idempotency_key,
                                         "X-Stalwart-Attempt": str(info.attempt)}
            try:
                response = await heartbeating(lambda: model.request(
                    messages, settings, parameters))  # type: ignore[arg-type]
            except ModelAPIError as error:
                model_error_to_application_error(error, self._non_retryable)
            return dict(_RESPONSE.dump_python(response, mode="json"))

        return activity.defn(name=self._activity_name)(model_request)


def model_activity(model: ActivityModel) -> Callable[..., Any]:
    return model.activity
