"""The public schedule types (mirrors the schedule classes of ``temporalio.client``).

Field names, defaults and meanings are Temporal's. What Stalwart cannot carry (protobuf raw
forms) is kept as ``None``; payloads read back from the store are ``converter.Payload`` objects,
as Temporal hands back ``temporalio.api.common.v1.Payload`` ones.
"""

from __future__ import annotations

import dataclasses
from abc import ABC
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from .._engine.codec import decode_value
from .._model import search_attributes as _sa
from .._model.search_attributes import TypedSearchAttributes
from .._runtime.definitions import get_workflow_definition
from ..common import Priority, RetryPolicy
from ..converter import DataConverter, Payload, _payload_from_json
from ..exceptions import StalwartError


class ScheduleAlreadyRunningError(StalwartError):
    """A schedule with this id already exists."""

    def __init__(self, message: str = "Schedule already running") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class ScheduleRange:
    """Inclusive range for a schedule match value."""

    start: int
    end: int = 0
    step: int = 0

    def __post_init__(self) -> None:
        # Frozen: set the defaults the way Temporal's SDK does.
        if self.end < self.start:
            object.__setattr__(self, "end", self.start)
        if self.step == 0:
            object.__setattr__(self, "step", 1)


@dataclass
class ScheduleCalendarSpec:
    """Calendar times to match: every field but ``year`` must match one of its ranges."""

    second: Sequence[ScheduleRange] = (ScheduleRange(0),)
    minute: Sequence[ScheduleRange] = (ScheduleRange(0),)
    hour: Sequence[ScheduleRange] = (ScheduleRange(0),)
    day_of_month: Sequence[ScheduleRange] = (ScheduleRange(1, 31),)
    month: Sequence[ScheduleRange] = (ScheduleRange(1, 12),)
    year: Sequence[ScheduleRange] = ()
    day_of_week: Sequence[ScheduleRange] = (ScheduleRange(0, 6),)
    comment: str | None = None


@dataclass
class ScheduleIntervalSpec:
    """Times of the form epoch + n * every + offset."""

    every: timedelta
    offset: timedelta | None = None


@dataclass
class ScheduleSpec:
    """The union of ``calendars``, ``intervals`` and ``cron_expressions``, minus ``skip``,
    between ``start_at`` and ``end_at``."""

    calendars: Sequence[ScheduleCalendarSpec] = dataclasses.field(default_factory=list)
    intervals: Sequence[ScheduleIntervalSpec] = dataclasses.field(default_factory=list)
    cron_expressions: Sequence[str] = dataclasses.field(default_factory=list)
    skip: Sequence[ScheduleCalendarSpec] = dataclasses.field(default_factory=list)
    start_at: datetime | None = None
    end_at: datetime | None = None
    jitter: timedelta | None = None
    time_zone_name: str | None = None


class ScheduleAction(ABC):  # noqa: B024 - the base of actions, as in Temporal
    """Base class for an action a schedule can take."""


class _ArgUnset:
    pass


_ARG_UNSET: Any = _ArgUnset()


class ScheduleActionStartWorkflow(ScheduleAction):
    """Schedule action to start a workflow (arguments as for ``Client.start_workflow``).

    Every start carries all of these: the arguments and memo (kept encoded), the timeouts,
    search attributes, static summary and details, headers, priority and retry policy
    (recorded in the run's started event, and followed: a failed run is retried). Read back from
    ``describe()``, ``args`` and memo values are ``converter.Payload`` objects."""

    workflow: str
    args: Sequence[Any]
    id: str
    task_queue: str
    execution_timeout: timedelta | None
    run_timeout: timedelta | None
    task_timeout: timedelta | None
    retry_policy: RetryPolicy | None
    memo: Mapping[str, Any] | None
    typed_search_attributes: TypedSearchAttributes
    untyped_search_attributes: Mapping[str, Sequence[Any]]
    static_summary: str | None
    static_details: str | None
    headers: Mapping[str, Payload] | None
    priority: Priority

    def __init__(
        self, workflow: Any, arg: Any = _ARG_UNSET, *, args: Sequence[Any] = (),
        id: str | None = None, task_queue: str | None = None,
        execution_timeout: timedelta | None = None, run_timeout: timedelta | None = None,
        task_timeout: timedelta | None = None, retry_policy: RetryPolicy | None = None,
        memo: Mapping[str, Any] | None = None,
        typed_search_attributes: TypedSearchAttributes = TypedSearchAttributes.empty,
        untyped_search_attributes: Mapping[str, Sequence[Any]] | None = None,
        static_summary: str | None = None, static_details: str | None = None,
        headers: Mapping[str, Payload] | None = None, priority: Priority | None = None,
        **_: Any,
    ) -> None:
        if not id:
            raise ValueError("ScheduleActionStartWorkflow needs id='...': the base workflow id; "
                             "each start gets '<id>-<scheduled time>'")
        if not task_queue:
            raise ValueError("ScheduleActionStartWorkflow needs task_queue='...', the queue "
                             "your worker polls")
        if callable(workflow) and not isinstance(workflow, str):
            definition = get_workflow_definition(workflow)
            if definition is None:
                raise TypeError(f"{workflow!r} is not a workflow: pass a @workflow.defn "
                                "class's run method or the workflow type name")
            workflow = definition.name
        elif not isinstance(workflow, str) or not workflow:
            raise TypeError("workflow must be a workflow run method or a non-empty type name")
        if arg is not _ARG_UNSET:
            if args:
                raise ValueError("pass either a single argument or args=[...], not both")
            args = [arg]
        for name, value in (("execution_timeout", execution_timeout),
                            ("run_timeout", run_timeout), ("task_timeout", task_timeout)):
            if value is not None and value <= timedelta(0):
                raise ValueError(f"ScheduleActionStartWorkflow {name} must be positive, got "
                                 f"{value}")
        if priority is not None and not isinstance(priority, Priority):
            raise TypeError("ScheduleActionStartWorkflow priority must be a Priority, got "
                            f"{type(priority).__name__}")
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise TypeError("ScheduleActionStartWorkflow retry_policy must be a RetryPolicy, "
                            f"got {type(retry_policy).__name__}")
        self.workflow: str = workflow
        self.args: Sequence[Any] = list(args)
        self.id: str = id
        self.task_queue: str = task_queue
        self.execution_timeout = execution_timeout
        self.run_timeout = run_timeout
        self.task_timeout = task_timeout
        self.retry_policy = retry_policy
        self.memo = memo
        self.typed_search_attributes = typed_search_attributes
        self.untyped_search_attributes: Mapping[str, Sequence[Any]] = \
            untyped_search_attributes or {}
        self.static_summary = static_summary
        self.static_details = static_details
        self.headers = headers
        self.priority = priority if priority is not None else Priority.default

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScheduleActionStartWorkflow):
            return NotImplemented
        return vars(self) == vars(other)

    def __repr__(self) -> str:
        return (f"ScheduleActionStartWorkflow(workflow={self.workflow!r}, id={self.id!r}, "
                f"task_queue={self.task_queue!r}, args={self.args!r})")


class ScheduleOverlapPolicy(IntEnum):
    """What happens when a start is due while an earlier run of the schedule is open."""

    SKIP = 1
    BUFFER_ONE = 2
    BUFFER_ALL = 3
    CANCEL_OTHER = 4
    TERMINATE_OTHER = 5
    ALLOW_ALL = 6


@dataclass
class ScheduleBackfill:
    """Take the actions of a past period now, as if its times passed now."""

    start_at: datetime
    end_at: datetime
    overlap: ScheduleOverlapPolicy | None = None


@dataclass
class SchedulePolicy:
    """Policies of a schedule. ``catchup_window=None`` means Temporal's default, one year."""

    overlap: ScheduleOverlapPolicy = dataclasses.field(
        default_factory=lambda: ScheduleOverlapPolicy.SKIP)
    catchup_window: timedelta | None = None
    pause_on_failure: bool = False


@dataclass
class ScheduleState:
    """State of a schedule."""

    note: str | None = None
    paused: bool = False
    limited_actions: bool = False
    remaining_actions: int = 0


@dataclass
class Schedule:
    """A schedule for periodically running an action."""

    action: ScheduleAction
    spec: ScheduleSpec
    policy: SchedulePolicy = dataclasses.field(default_factory=SchedulePolicy)
    state: ScheduleState = dataclasses.field(default_factory=ScheduleState)


class ScheduleActionExecution(ABC):  # noqa: B024 - the base of executions, as in Temporal
    """Base class for an action execution."""


@dataclass
class ScheduleActionExecutionStartWorkflow(ScheduleActionExecution):
    """A workflow started by a schedule."""

    workflow_id: str
    first_execution_run_id: str


@dataclass
class ScheduleActionResult:
    """When an action took place: ``scheduled_at`` includes jitter."""

    scheduled_at: datetime
    started_at: datetime
    action: ScheduleActionExecution


@dataclass
class ScheduleInfo:
    """Information about a schedule."""

    num_actions: int
    num_actions_missed_catchup_window: int
    num_actions_skipped_overlap: int
    running_actions: Sequence[ScheduleActionExecution]
    recent_actions: Sequence[ScheduleActionResult]
    next_action_times: Sequence[datetime]
    created_at: datetime
    last_updated_at: datetime | None


class _MemoMixin:
    _memo: dict[str, Any]
    data_converter: DataConverter

    async def memo(self) -> Mapping[str, Any]:
        """The schedule's memo, decoded without type hints."""
        return {key: await self.memo_value(key) for key in self._memo}

    async def memo_value(self, key: str, default: Any = _ARG_UNSET, *,
                         type_hint: type | None = None) -> Any:
        if key not in self._memo:
            if default is _ARG_UNSET:
                raise KeyError(f"schedule memo has no key {key!r}")
            return default
        payload = await decode_value(dict(self._memo[key]),
                                     self.data_converter._store_codec)
        return self.data_converter.payload_converter.from_payload(
            _payload_from_json(payload), type_hint)


@dataclass
class ScheduleDescription(_MemoMixin):
    """Description of a schedule."""

    id: str
    schedule: Schedule
    info: ScheduleInfo
    typed_search_attributes: TypedSearchAttributes
    search_attributes: Mapping[str, Sequence[Any]]
    data_converter: DataConverter
    raw_description: Any = None
    _memo: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)


@dataclass
class ScheduleUpdateInput:
    """What an update callback of :meth:`ScheduleHandle.update` receives."""

    description: ScheduleDescription


@dataclass
class ScheduleUpdate:
    """What an update callback returns: the new schedule."""

    schedule: Schedule
    search_attributes: TypedSearchAttributes | None = None


class ScheduleListAction(ABC):  # noqa: B024 - the base of listed actions, as in Temporal
    """Base class for an action of a listed schedule."""


@dataclass
class ScheduleListActionStartWorkflow(ScheduleListAction):
    workflow: str


@dataclass
class ScheduleListState:
    note: str | None
    paused: bool


@dataclass
class ScheduleListSchedule:
    action: ScheduleListAction
    spec: ScheduleSpec
    state: ScheduleListState


@dataclass
class ScheduleListInfo:
    recent_actions: Sequence[ScheduleActionResult]
    next_action_times: Sequence[datetime]


@dataclass
class ScheduleListDescription(_MemoMixin):
    """One schedule as :meth:`Client.list_schedules` reports it."""

    id: str
    schedule: ScheduleListSchedule | None
    info: ScheduleListInfo | None
    typed_search_attributes: TypedSearchAttributes
    search_attributes: Mapping[str, Sequence[Any]]
    data_converter: DataConverter
    raw_entry: Any = None
    _memo: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)


def typed_attributes(stored: Mapping[str, Any] | None) -> tuple[TypedSearchAttributes,
                                                                   dict[str, list[Any]]]:
    return _sa.from_store(stored), _sa.to_dict_form(stored)


__all__ = [
    "Schedule",
    "ScheduleAction",
    "ScheduleActionExecution",
    "ScheduleActionExecutionStartWorkflow",
    "ScheduleActionResult",
    "ScheduleActionStartWorkflow",
    "ScheduleAlreadyRunningError",
    "ScheduleBackfill",
    "ScheduleCalendarSpec",
    "ScheduleDescription",
    "ScheduleInfo",
    "ScheduleIntervalSpec",
    "ScheduleListAction",
    "ScheduleListActionStartWorkflow",
    "ScheduleListDescription",
    "ScheduleListInfo",
    "ScheduleListSchedule",
    "ScheduleListState",
    "ScheduleOverlapPolicy",
    "SchedulePolicy",
    "ScheduleRange",
    "ScheduleSpec",
    "ScheduleState",
    "ScheduleUpdate",
    "ScheduleUpdateInput",
]
