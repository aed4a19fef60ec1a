"""The run context a tool sees inside an activity (Pydantic AI's ``TemporalRunContext``)."""

from __future__ import annotations

from typing import Any

from pydantic_ai.durable_exec import DurabilityEngineSpec, DurableRunContext
from pydantic_ai.tools import RunContext

__all__ = ["ENGINE_SPEC", "StalwartRunContext", "TemporalRunContext", "restore_run_context"]

ENGINE_SPEC = DurabilityEngineSpec(
    engine_name="Stalwart", durable_unit_noun="activity", durable_unit_plural="activities",
    durable_container_noun="workflow")


class TemporalRunContext(DurableRunContext[Any]):
    """The ``RunContext`` rebuilt inside a tool activity.

    Only what crosses the activity boundary is there: ``deps``, ``run_id``, ``retry``,
    ``tool_call_id``, ``tool_name``, ``run_step``, ``usage``, ``metadata`` and the other plain
    fields Pydantic AI lists on ``DurableRunContext``. The message history, the model and the
    live tool manager stay in the workflow; reading one of them raises an error that says how
    to carry it: subclass this class, extend ``serialize_run_context`` and pass the subclass
    as ``TemporalAgent(run_context_type=...)``.
    """

    def unavailable_field_message(self, name: str) -> str:
        return (f"{name!r} is not available on {type(self).__name__} inside a Stalwart activity; "
                "to carry it, subclass TemporalRunContext with a serialize_run_context that "
                "includes it and pass the subclass as TemporalAgent(run_context_type=...)")


StalwartRunContext = TemporalRunContext


def restore_run_context(run_context_type: type[TemporalRunContext], serialized: dict[str, Any],
                        deps: Any, agent: Any) -> RunContext[Any]:
    return run_context_type.restore(serialized, deps=deps, agent=agent, engine_spec=ENGINE_SPEC)
