"""``PydanticAIPlugin`` and ``AgentPlugin``: what a client and its workers need."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from pydantic.errors import PydanticUserError
from pydantic_ai.exceptions import AgentRunError, UserError

from ...converter import DataConverter, DefaultPayloadConverter
from ...plugin import SimplePlugin
from ...worker import WorkerConfig
from ..pydantic import PydanticPayloadConverter
from ._agent import TemporalAgent

__all__ = ["AgentPlugin", "PydanticAIPayloadConverter", "PydanticAIPlugin",
           "PydanticAIWorkflow"]


class PydanticAIPayloadConverter(PydanticPayloadConverter):
    """The payload converter the plugin puts on the client: pydantic for JSON values, so
    ``deps`` and workflow inputs and results that are pydantic models or dataclasses cross
    activity and workflow boundaries."""


def _data_converter(converter: DataConverter | None) -> DataConverter:
    if converter is None:
        return DataConverter(payload_converter_class=PydanticAIPayloadConverter)
    current = converter.payload_converter_class
    if issubclass(current, PydanticPayloadConverter):
        return converter
    if current is not DefaultPayloadConverter:
        warnings.warn(f"PydanticAIPlugin replaced the payload converter {current.__name__} "
                      "with PydanticAIPayloadConverter; subclass PydanticAIPayloadConverter "
                      "to keep your own behaviour", stacklevel=2)
    return dataclasses.replace(converter, payload_converter_class=PydanticAIPayloadConverter)


def _dedupe(config: WorkerConfig) -> WorkerConfig:
    # An agent listed on several workflows, or also given to AgentPlugin, brings the same
    # activities more than once; a worker refuses duplicate names.
    config["activities"] = list(dict.fromkeys(config.get("activities") or ()))
    return config


class PydanticAIPlugin(SimplePlugin):
    """Client and worker plugin for Pydantic AI (Pydantic AI's plugin of the same name).

    Sets the client's payload converter to :class:`PydanticAIPayloadConverter`, makes Pydantic
    AI's run errors (``UserError``, ``AgentRunError`` such as ``UsageLimitExceeded`` or a model
    error whose retries are spent) fail the workflow instead of retrying its task, and on each
    worker registers the activities of every ``TemporalAgent`` listed in a workflow class's
    ``__pydantic_ai_agents__``.
    """

    def __init__(self) -> None:
        super().__init__("PydanticAIPlugin", data_converter=_data_converter,
                         workflow_failure_exception_types=[UserError, PydanticUserError,
                                                           AgentRunError])

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        config = super().configure_worker(config)
        activities: list[Callable[..., Any]] = list(config.get("activities") or ())
        for workflow_class in config.get("workflows") or ():
            agents = getattr(workflow_class, "__pydantic_ai_agents__", None)
            if agents is None:
                continue
            if not isinstance(agents, Sequence):
                raise TypeError(f"{workflow_class.__name__}.__pydantic_ai_agents__ must be a "
                                f"sequence of TemporalAgent, got {type(agents).__name__}")
            for agent in agents:
                if not isinstance(agent, TemporalAgent):
                    raise TypeError(f"{workflow_class.__name__}.__pydantic_ai_agents__ holds "
                                    f"{type(agent).__name__}; wrap it: TemporalAgent(agent)")
                activities.extend(agent.temporal_activities)
        config["activities"] = activities
        return _dedupe(config)


class AgentPlugin(SimplePlugin):
    """Worker plugin that registers one ``TemporalAgent``'s activities."""

    def __init__(self, agent: TemporalAgent) -> None:
        if not isinstance(agent, TemporalAgent):
            raise TypeError(f"AgentPlugin needs a TemporalAgent, got {type(agent).__name__}; "
                            "wrap the agent: AgentPlugin(TemporalAgent(agent))")
        super().__init__("AgentPlugin", activities=agent.temporal_activities)

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        return _dedupe(super().configure_worker(config))


class PydanticAIWorkflow:
    """Base class for workflows that list their agents in ``__pydantic_ai_agents__`` (read by
    :class:`PydanticAIPlugin`)."""

    __pydantic_ai_agents__: Sequence[TemporalAgent]
