"""The value types of activities started from a client (mirrors temporalio.client's): what
``describe``/``list_activities``/``count_activities`` return, the interceptor inputs, and
``ActivityFailureError``. The behaviour is in ``_client_activities.py``."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, Generic, TypeVar

from . import exceptions as exc
from ._client_visibility import PendingActivityState
from ._engine.codec import decode_value
from ._model import search_attributes as _sa
from ._model.search_attributes import TypedSearchAttributes
from .common import Priority, RetryPolicy
from .converter import DataConverter, Payload, _payload_from_json


class ActivityExecutionStatus(IntEnum):
    """Status of an activity started from a client (temporalio's numbers)."""

    UNSPECIFIED = 0
    RUNNING = 1
    COMPLETED = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    TIMED_OUT = 6
    PAUSED = 7


class ActivityFailureError(exc.TemporalError):
    """``ActivityHandle.result()`` of an activity that did not complete: ``cause`` is its
    error (ApplicationError, TimeoutError, CancelledError or TerminatedError)."""

    def __init__(self, *, cause: BaseException) -> None:
        super().__init__("Activity execution failed")
        self.__cause__ = cause

    @property
    def cause(self) -> BaseException:
        assert self.__cause__ is not None
        return self.__cause__


def _time(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def _seconds(value: Any) -> timedelta | None:
    return timedelta(seconds=value) if value else None


@dataclass(frozen=True, eq=False, kw_only=True)
class ActivityExecution:
    """An activity started from a client, as ``list_activities`` yields it."""

    activity_id: str
    activity_run_id: str | None
    activity_type: str
    close_time: datetime | None
    execution_duration: timedelta | None
    execution_time: datetime | None
    namespace: str
    schedule_time: datetime
    status: ActivityExecutionStatus
    task_queue: str
    typed_search_attributes: TypedSearchAttributes
    raw_info: Mapping[str, Any] = field(repr=False)
    """The store's row for this activity (Temporal's is a protobuf message)."""

    @classmethod
    def _fields(cls, row: dict[str, Any], namespace: str) -> dict[str, Any]:
        close = row["close_time"]
        return dict(
            raw_info=row, activity_id=row["activity_id"], activity_run_id=row["run_id"],
            activity_type=row["activity_type"], close_time=_time(close),
            execution_duration=timedelta(seconds=close - row["schedule_time"])
            if close is not None else None,
            execution_time=_time(row["execution_time"]), namespace=namespace,
            schedule_time=_time(row["schedule_time"]),
            status=ActivityExecutionStatus(row["status"]), task_queue=row["task_queue"],
            typed_search_attributes=_sa.from_store(row["search_attributes"] or None))

    @classmethod
    def _from_row(cls, row: dict[str, Any], namespace: str) -> ActivityExecution:
        return cls(**cls._fields(row, namespace))


@dataclass(frozen=True, eq=False, kw_only=True)
class ActivityExecutionDescription(ActivityExecution):
    """Everything the store knows about an activity started from a client."""

    attempt: int
    canceled_reason: str | None
    current_retry_interval: timedelta | None
    expiration_time: datetime | None
    heartbeat_timeout: timedelta | None
    last_attempt_complete_time: datetime | None
    last_deployment_version: None
    last_heartbeat_time: datetime | None
    last_started_time: datetime | None
    last_worker_identity: str | None
    next_attempt_schedule_time: datetime | None
    priority: Priority
    retry_policy: RetryPolicy | None
    run_state: PendingActivityState | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    start_delay: timedelta | None
    total_heartbeat_count: int
    raw_callbacks: Sequence[Any] = field(repr=False, default=())
    raw_input: Sequence[Mapping[str, Any]] | None = field(repr=False, default=None)
    raw_outcome: Mapping[str, Any] | None = field(repr=False, default=None)
    data_converter: DataConverter = field(repr=False, default=DataConverter.default)

    @classmethod
    def _from_description(cls, row: dict[str, Any], namespace: str,
                          converter: DataConverter) -> ActivityExecutionDescription:
        options = row["options"]
        policy = options.get("retry_policy")
        s2c = options.get("schedule_to_close_timeout")
        state = row["state"]
        outcome = None
        if row["result"] is not None:
            outcome = {"result": row["result"]}
        elif row["failure"] is not None:
            outcome = {"failure": row["failure"]}
        return cls(
            **cls._fields(row, namespace), attempt=row["attempt"],
            canceled_reason=row["canceled_reason"] or None, current_retry_interval=None,
            expiration_time=_time(row["schedule_time"] + s2c) if s2c else None,
            heartbeat_timeout=_seconds(options.get("heartbeat_timeout")),
            last_attempt_complete_time=_time(row["close_time"]),
            last_deployment_version=None,
            last_heartbeat_time=_time(row["last_heartbeat_time"]),
            last_started_time=_time(row["last_started_time"]),
            last_worker_identity=row["last_worker"],
            next_attempt_schedule_time=_time(row["next_attempt_time"]),
            priority=Priority(priority_key=options.get("priority")),
            retry_policy=RetryPolicy._from_json(policy) if policy else None,
            run_state=PendingActivityState[state.upper()] if state else None,
            schedule_to_close_timeout=_seconds(s2c),
            schedule_to_start_timeout=_seconds(options.get("schedule_to_start_timeout")),
            start_to_close_timeout=_seconds(options.get("start_to_close_timeout")),
            start_delay=_seconds(options.get("start_delay")),
            total_heartbeat_count=row["heartbeat_count"], raw_input=row["input"],
            raw_outcome=outcome, data_converter=converter)

    async def _values(self, stored: Sequence[Any], type_hints: list[type] | None
                      ) -> list[Any]:
        converter = self.data_converter
        payloads: list[Payload] = [_payload_from_json(await decode_value(
            p, converter._store_codec)) for p in stored]
        return converter.payload_converter.from_payloads(payloads, type_hints)

    async def _failure(self, stored: Any) -> BaseException:
        converter = self.data_converter
        failure = await decode_value(stored, converter._store_codec)
        return converter.failure_converter.from_failure(failure, converter.payload_converter)

    def has_heartbeat_details(self) -> bool:
        return bool(self.raw_info.get("heartbeat_details"))

    async def heartbeat_details(self, type_hints: list[type] | None = None
                                ) -> list[Any] | None:
        details = self.raw_info.get("heartbeat_details")
        return await self._values(details, type_hints) if details else None

    def has_last_failure(self) -> bool:
        return self.raw_info.get("last_failure") is not None

    async def last_failure(self) -> BaseException | None:
        failure = self.raw_info.get("last_failure")
        return await self._failure(failure) if failure is not None else None

    def has_input(self) -> bool:
        return self.raw_input is not None

    async def input(self, type_hints: list[type] | None = None) -> list[Any] | None:
        return await self._values(self.raw_input, type_hints) \
            if self.raw_input is not None else None

    def has_result(self) -> bool:
        return self.raw_outcome is not None and "result" in self.raw_outcome

    async def result(self, type_hint: type | None = None) -> Any | None:
        if self.raw_outcome is None or "result" not in self.raw_outcome:
            return None
        results = await self._values([self.raw_outcome["result"]],
                                     [type_hint] if type_hint is not None else None)
        if len(results) > 1:
            warnings.warn(f"Expected single activity result, got {len(results)}",
                          stacklevel=2)
        return results[0] if results else None

    def has_outcome_failure(self) -> bool:
        return self.raw_outcome is not None and "failure" in self.raw_outcome

    async def outcome_failure(self) -> BaseException | None:
        if self.raw_outcome is None or "failure" not in self.raw_outcome:
            return None
        return await self._failure(self.raw_outcome["failure"])


@dataclass(frozen=True)
class ActivityExecutionCountAggregationGroup:
    """One group of a ``count_activities`` answer."""

    count: int
    group_values: Sequence[Any]


@dataclass(frozen=True)
class ActivityExecutionCount:
    """What ``count_activities`` returns (groups: none, Stalwart has no GROUP BY here)."""

    count: int
    groups: Sequence[ActivityExecutionCountAggregationGroup]


ActivityOptionValueType = TypeVar("ActivityOptionValueType")


@dataclass(frozen=True)
class ActivityOptionsKey(Generic[ActivityOptionValueType]):
    """One option ``ActivityHandle.update_options`` can change; use ``ActivityOptionsKeys``."""

    name: str

    def value_set(self, value: ActivityOptionValueType
                  ) -> ActivityOptionsUpdate[ActivityOptionValueType]:
        return ActivityOptionsUpdate(self, value)

    def value_unset(self) -> ActivityOptionsUpdate[ActivityOptionValueType]:
        return ActivityOptionsUpdate(self, None)


@dataclass(frozen=True)
class ActivityOptionsUpdate(Generic[ActivityOptionValueType]):
    """A change to one option: a value, or None to clear it."""

    key: ActivityOptionsKey[ActivityOptionValueType]
    value: ActivityOptionValueType | None


class ActivityOptionsKeys:
    """The options ``ActivityHandle.update_options`` can change."""

    task_queue: ActivityOptionsKey[str] = ActivityOptionsKey("task_queue.name")
    schedule_to_close_timeout: ActivityOptionsKey[timedelta] = ActivityOptionsKey(
        "schedule_to_close_timeout")
    schedule_to_start_timeout: ActivityOptionsKey[timedelta] = ActivityOptionsKey(
        "schedule_to_start_timeout")
    start_to_close_timeout: ActivityOptionsKey[timedelta] = ActivityOptionsKey(
        "start_to_close_timeout")
    heartbeat_timeout: ActivityOptionsKey[timedelta] = ActivityOptionsKey("heartbeat_timeout")
    start_delay: ActivityOptionsKey[timedelta] = ActivityOptionsKey("start_delay")
    retry_policy: ActivityOptionsKey[RetryPolicy] = ActivityOptionsKey("retry_policy")
    priority: ActivityOptionsKey[Priority] = ActivityOptionsKey("priority")


@dataclass(frozen=True)
class ActivityExecutionOptions:
    """An activity's options as the store now holds them."""

    task_queue: str | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    heartbeat_timeout: timedelta | None
    start_delay: timedelta | None
    retry_policy: RetryPolicy | None
    priority: Priority | None

    @staticmethod
    def _from_store(options: dict[str, Any]) -> ActivityExecutionOptions:
        policy = options.get("retry_policy")
        return ActivityExecutionOptions(
            task_queue=options.get("task_queue"),
            schedule_to_close_timeout=_seconds(options.get("schedule_to_close_timeout")),
            schedule_to_start_timeout=_seconds(options.get("schedule_to_start_timeout")),
            start_to_close_timeout=_seconds(options.get("start_to_close_timeout")),
            heartbeat_timeout=_seconds(options.get("heartbeat_timeout")),
            start_delay=_seconds(options.get("start_delay")),
            retry_policy=RetryPolicy._from_json(policy) if policy else None,
            priority=Priority(priority_key=options.get("priority")))


# -- interceptor inputs (OutboundInterceptor.*_activity) -------------------------------------
@dataclass
class StartActivityInput:
    activity_type: str
    args: Sequence[Any]
    id: str
    task_queue: str
    result_type: type | None
    schedule_to_close_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    heartbeat_timeout: timedelta | None
    id_reuse_policy: Any
    id_conflict_policy: Any
    retry_policy: RetryPolicy | None
    priority: Priority
    search_attributes: TypedSearchAttributes | None
    summary: str | None
    start_delay: timedelta | None
    headers: Mapping[str, Payload]
    rpc_metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    rpc_timeout: timedelta | None = None


@dataclass
class CancelActivityInput:
    activity_id: str
    activity_run_id: str | None
    reason: str | None
    rpc_metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    rpc_timeout: timedelta | None = None


@dataclass
class TerminateActivityInput:
    activity_id: str
    activity_run_id: str | None
    reason: str | None
    rpc_metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    rpc_timeout: timedelta | None = None


@dataclass
class PauseActivityInput:
    activity_id: str
    activity_run_id: str | None
    reason: str | None
    rpc_metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    rpc_timeout: timedelta | None = None


@dataclass
class UnpauseActivityInput:
    activity_id: str
    activity_run_id: str | None
    reason: str | None
    jitter: timedelta | None
    rpc_metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    rpc_timeout: timedelta | None = None


@dataclass
class UpdateActivityOptionsInput:
    activity_id: str
    activity_run_id: str | None
    updates: Sequence[ActivityOptionsUpdate[Any]]
    restore_original: bool
    rpc_metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    rpc_timeout: timedelta | None = None


@dataclass
class DescribeActivityInput:
    activity_id: str
    activity_run_id: str | None
    include_input: bool
    include_outcome: bool
    include_heartbeat_details: bool
    include_last_failure: bool
    rpc_metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    rpc_timeout: timedelta | None = None


@dataclass
class ListActivitiesInput:
    query: str | None
    page_size: int
    next_page_token: bytes | None
    rpc_metadata: Mapping[str, str | bytes]
    rpc_timeout: timedelta | None
    limit: int | None


@dataclass
class CountActivitiesInput:
    query: str | None
    rpc_metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    rpc_timeout: timedelta | None = None
