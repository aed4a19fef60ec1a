"""Schedules to and from their store form: plain JSON, with the action's arguments and memo as
encoded payloads (so the scheduler starts workflows without a data converter)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .._model import search_attributes as _sa
from ..common import Priority, RetryPolicy
from ..converter import (
    Payload,
    _payload_from_json,
    _payload_to_json,
    headers_from_json,
    headers_to_json,
)
from .types import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)

Encoder = Callable[[Sequence[Any], str], Awaitable[list[dict[str, Any]]]]

DEFAULT_CATCHUP = timedelta(days=365)
_CALENDAR_FIELDS = ("second", "minute", "hour", "day_of_month", "month", "year",
                    "day_of_week")


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _delta(value: float | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


def _time(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _datetime(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def calendar_to_json(spec: ScheduleCalendarSpec) -> dict[str, Any]:
    out: dict[str, Any] = {name: [[r.start, r.end, r.step] for r in getattr(spec, name)]
                           for name in _CALENDAR_FIELDS}
    out["comment"] = spec.comment
    return out


def calendar_from_json(data: dict[str, Any]) -> ScheduleCalendarSpec:
    fields = {name: tuple(ScheduleRange(*r) for r in data[name]) for name in _CALENDAR_FIELDS}
    return ScheduleCalendarSpec(**fields, comment=data.get("comment"))


def spec_to_json(spec: ScheduleSpec) -> dict[str, Any]:
    return {
        "calendars": [calendar_to_json(c) for c in spec.calendars],
        "intervals": [[i.every.total_seconds(), _seconds(i.offset)] for i in spec.intervals],
        "cron_expressions": list(spec.cron_expressions),
        "skip": [calendar_to_json(c) for c in spec.skip],
        "start_at": _time(spec.start_at), "end_at": _time(spec.end_at),
        "jitter": _seconds(spec.jitter), "time_zone_name": spec.time_zone_name,
    }


def spec_from_json(data: dict[str, Any]) -> ScheduleSpec:
    return ScheduleSpec(
        calendars=[calendar_from_json(c) for c in data["calendars"]],
        intervals=[ScheduleIntervalSpec(timedelta(seconds=every), _delta(offset))
                   for every, offset in data["intervals"]],
        cron_expressions=list(data["cron_expressions"]),
        skip=[calendar_from_json(c) for c in data["skip"]],
        start_at=_datetime(data["start_at"]), end_at=_datetime(data["end_at"]),
        jitter=_delta(data["jitter"]), time_zone_name=data["time_zone_name"])


async def _payloads(values: Sequence[Any], encode: Encoder, what: str
                    ) -> list[dict[str, Any]]:
    """Encode values; ones already encoded (read back from a description) stay as they are."""
    out: list[dict[str, Any]] = []
    for value in values:
        if isinstance(value, Payload):
            out.append(_payload_to_json(value))
        else:
            out += await encode([value], what)
    return out


async def action_to_json(action: Any, encode: Encoder) -> dict[str, Any]:
    if not isinstance(action, ScheduleActionStartWorkflow):
        raise TypeError(f"Schedule.action must be a ScheduleActionStartWorkflow, got "
                        f"{type(action).__name__}")
    search = _sa.to_store(action.typed_search_attributes)
    search.update(_sa.to_store(action.untyped_search_attributes or None))
    return {
        "workflow": action.workflow, "id": action.id, "task_queue": action.task_queue,
        "args": await _payloads(action.args, encode,
                                f"schedule action {action.workflow!r} arguments"),
        "execution_timeout": _seconds(action.execution_timeout),
        "run_timeout": _seconds(action.run_timeout),
        "task_timeout": _seconds(action.task_timeout),
        "retry_policy": action.retry_policy._to_json() if action.retry_policy else None,
        "memo": {key: (await _payloads([value], encode, f"memo {key!r}"))[0]
                 for key, value in (action.memo or {}).items()} or None,
        "search_attributes": search or None,
        "static_summary": action.static_summary, "static_details": action.static_details,
        "header": headers_to_json(action.headers) or None,
        "priority": _priority_to_json(action.priority),
    }


def _priority_to_json(priority: Priority | None) -> dict[str, Any] | None:
    if priority is None or priority == Priority.default:
        return None
    return {"priority_key": priority.priority_key, "fairness_key": priority.fairness_key,
            "fairness_weight": priority.fairness_weight}


def action_from_json(data: dict[str, Any]) -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow(
        data["workflow"], args=[_payload_from_json(p) for p in data["args"]], id=data["id"],
        task_queue=data["task_queue"], execution_timeout=_delta(data["execution_timeout"]),
        run_timeout=_delta(data["run_timeout"]), task_timeout=_delta(data["task_timeout"]),
        retry_policy=RetryPolicy._from_json(data["retry_policy"])
        if data.get("retry_policy") else None,
        memo={key: _payload_from_json(value) for key, value in data["memo"].items()}
        if data.get("memo") else None,
        typed_search_attributes=_sa.from_store(data.get("search_attributes")),
        static_summary=data.get("static_summary"), static_details=data.get("static_details"),
        headers=headers_from_json(data["header"]) if data.get("header") else None,
        priority=Priority(**data["priority"]) if data.get("priority") else None)


def policy_to_json(policy: SchedulePolicy) -> dict[str, Any]:
    return {"overlap": int(policy.overlap), "catchup_window": _seconds(policy.catchup_window),
            "pause_on_failure": policy.pause_on_failure}


def policy_from_json(data: dict[str, Any]) -> SchedulePolicy:
    return SchedulePolicy(overlap=ScheduleOverlapPolicy(data["overlap"]),
                          # Temporal's server fills in its default, one year.
                          catchup_window=_delta(data["catchup_window"]) or DEFAULT_CATCHUP,
                          pause_on_failure=data["pause_on_failure"])


def state_to_json(state: ScheduleState) -> dict[str, Any]:
    return {"note": state.note, "paused": state.paused,
            "limited_actions": state.limited_actions,
            "remaining_actions": state.remaining_actions}


def state_from_json(data: dict[str, Any]) -> ScheduleState:
    return ScheduleState(note=data["note"], paused=data["paused"],
                         limited_actions=data["limited_actions"],
                         remaining_actions=data["remaining_actions"])


async def schedule_to_json(schedule: Schedule, encode: Encoder) -> dict[str, Any]:
    if not isinstance(schedule, Schedule):
        raise TypeError(f"expected a Schedule, got {type(schedule).__name__}")
    if not isinstance(schedule.policy.overlap, int) or \
            int(schedule.policy.overlap) not in ScheduleOverlapPolicy._value2member_map_:
        raise ValueError(f"SchedulePolicy.overlap {schedule.policy.overlap!r} is not a "
                         "ScheduleOverlapPolicy")
    window = schedule.policy.catchup_window
    if window is not None and window < timedelta(seconds=10):
        raise ValueError(f"SchedulePolicy.catchup_window {window} is below Temporal's minimum "
                         "of 10 seconds; use at least timedelta(seconds=10)")
    state = schedule.state
    if state.remaining_actions < 0:
        raise ValueError(f"ScheduleState.remaining_actions {state.remaining_actions} is "
                         "negative")
    return {"action": await action_to_json(schedule.action, encode),
            "spec": spec_to_json(schedule.spec), "policy": policy_to_json(schedule.policy),
            "state": state_to_json(schedule.state)}


def schedule_from_json(data: dict[str, Any]) -> Schedule:
    return Schedule(action=action_from_json(data["action"]),
                    spec=spec_from_json(data["spec"]),
                    policy=policy_from_json(data["policy"]),
                    state=state_from_json(data["state"]))


__all__ = ["schedule_from_json", "schedule_to_json", "spec_from_json", "spec_to_json"]
