"""Tokens and cost where people look: the run's memo, Prometheus, and the history's steps.

* In the workflow, :func:`record_usage` adds one model call to the run's memo
  ``stalwart.usage`` (a :class:`RunUsage` as JSON): totals and a break-down by model. The memo
  is what ``WorkflowHandle.describe()`` and ``Client.list_workflows()`` return, so a run's cost
  is read without a query and after the run closed.
* In the activity, :func:`observe_call` counts tokens and cost in this process's Prometheus
  registry (``stalwart.metrics.REGISTRY``) by model and workflow type. Activities run at least
  once: an attempt whose result was lost with its worker is counted again (it was also paid
  for again).
* :func:`steps_from_history` reads per-step usage from a history (the agent layer's chat
  activity and the OpenAI Agents SDK model activity), for pages that show each call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .._engine.metrics import METRICS
from ._types import Usage

__all__ = ["USAGE_MEMO", "ModelUsage", "RunUsage", "StepUsage", "observe_call",
           "record_usage", "run_usage_from_memo", "steps_from_history"]

USAGE_MEMO = "stalwart.usage"
_PATCH = "stalwart.agents.usage-memo"


@dataclass
class ModelUsage:
    """Tokens and cost of the calls to one model."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0

    def add(self, usage: Usage) -> None:
        self.calls += max(usage.calls, 1)
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cached_input_tokens += usage.cached_input_tokens
        self.cost_usd = round(self.cost_usd + usage.cost_usd, 10)
        self.unpriced_calls += usage.unpriced_calls


@dataclass
class RunUsage(ModelUsage):
    """What the memo ``stalwart.usage`` holds: the run's totals and ``by_model``."""

    by_model: dict[str, ModelUsage] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add_call(self, model: str, usage: Usage) -> None:
        self.add(usage)
        self.by_model.setdefault(model or "unknown", ModelUsage()).add(usage)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_usage_from_memo(value: Any) -> RunUsage | None:
    """The :class:`RunUsage` in a decoded memo value, or None if there is none."""
    if not isinstance(value, dict):
        return None
    known = set(ModelUsage.__dataclass_fields__)
    by_model = {str(name): ModelUsage(**{k: v for k, v in entry.items() if k in known})
                for name, entry in (value.get("by_model") or {}).items()
                if isinstance(entry, dict)}
    return RunUsage(**{k: v for k, v in value.items() if k in known}, by_model=by_model)


def record_usage(model: str, usage: Usage) -> RunUsage:
    """Add one model call to this run's ``stalwart.usage`` memo (call it in workflow code).

    The running total is rebuilt from the memo on replay, so it survives workers dying and
    continues across ``continue_as_new`` when the memo is carried.
    """
    from .. import workflow

    current = run_usage_from_memo(workflow.memo_value(USAGE_MEMO, None)) or RunUsage()
    current.add_call(model, usage)
    if workflow.patched(_PATCH):
        workflow.upsert_memo({USAGE_MEMO: current.to_json()})
    return current


def observe_call(workflow_type: str, model: str, usage: Usage) -> None:
    """Count one model call in this process's Prometheus metrics."""
    model = model or "unknown"
    tokens = METRICS.llm_tokens
    tokens.inc(workflow_type, model, "input", amount=float(usage.input_tokens))
    tokens.inc(workflow_type, model, "output", amount=float(usage.output_tokens))
    if usage.cached_input_tokens:
        tokens.inc(workflow_type, model, "cached_input",
                   amount=float(usage.cached_input_tokens))
    METRICS.llm_cost.inc(workflow_type, model, amount=usage.cost_usd)
    METRICS.llm_calls.inc(workflow_type, model,
                          "unpriced" if usage.unpriced_calls else "priced")


@dataclass
class StepUsage:
    """One model call as the history recorded it."""

    event_id: int
    activity_type: str
    model: str
    summary: str
    usage: Usage


def steps_from_history(events: list[Any], decode: Any) -> list[StepUsage]:
    """The model calls in ``events`` (Temporal-model history events) with their usage.

    ``decode`` turns an event's result payloads into Python values.
    """
    from .llm import CHAT_ACTIVITY

    model_activities = (CHAT_ACTIVITY, "invoke_model_activity",
                        "invoke_model_activity_streaming")
    scheduled: dict[int, tuple[str, str, str]] = {}
    steps: list[StepUsage] = []
    for event in events:
        if event.event_type == "ActivityTaskScheduled":
            attrs = event.attributes
            kind = (attrs.get("activityType") or {}).get("name", "")
            if kind in model_activities:
                first = _first(decode(attrs.get("input")))
                model = ""
                if isinstance(first, dict):
                    model = str(first.get("model") or first.get("model_name") or "")
                summary = decode((attrs.get("userMetadata") or {}).get("summary"))
                scheduled[event.event_id] = (kind, model, summary
                                             if isinstance(summary, str) else "")
        elif event.event_type == "ActivityTaskCompleted":
            attrs = event.attributes
            key = int(attrs.get("scheduledEventId") or 0)
            if key not in scheduled:
                continue
            kind, model, summary = scheduled[key]
            value = _first(decode(attrs.get("result")))
            if isinstance(value, list):
                # The streamed model activity's result: its events, the completed one last.
                value = next((e["response"] for e in reversed(value) if isinstance(e, dict)
                              and e.get("type") == "response.completed"
                              and isinstance(e.get("response"), dict)), None)
            elif isinstance(value, dict) and isinstance(value.get("response"), dict):
                value = value["response"]  # the same, as histories before held it
            if not isinstance(value, dict) or not isinstance(value.get("usage"), dict):
                continue
            raw = value["usage"]
            model = str(value.get("model") or raw.get("model") or model)
            known = set(Usage.__dataclass_fields__)
            usage = Usage(**{k: v for k, v in raw.items() if k in known})
            usage.calls = max(usage.calls, int(raw.get("requests") or 0), 1)
            steps.append(StepUsage(event.event_id, kind, model,
                                   summary or f"model call {len(steps) + 1}", usage))
    return steps


def _first(value: Any) -> Any:
    """The first value of a decoded payload list (``{"payloads": [...]}`` or a list)."""
    if isinstance(value, dict) and "payloads" in value:
        value = value["payloads"]
    return value[0] if isinstance(value, list) and value else None
