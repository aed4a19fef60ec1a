"""Small value types shared by workflows, activities and clients (mirrors ``temporalio.common``)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

from ._metric_meter import (
    MetricAttributes,
    MetricCommon,
    MetricCounter,
    MetricGauge,
    MetricGaugeFloat,
    MetricHistogram,
    MetricHistogramFloat,
    MetricHistogramTimedelta,
    MetricMeter,
)
from ._model.search_attributes import (
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

__all__ = [
    "ActivityIDConflictPolicy",
    "ActivityIDReusePolicy",
    "MetricAttributes",
    "MetricCommon",
    "MetricCounter",
    "MetricGauge",
    "MetricGaugeFloat",
    "MetricHistogram",
    "MetricHistogramFloat",
    "MetricHistogramTimedelta",
    "MetricMeter",
    "Priority",
    "QueryRejectCondition",
    "RawValue",
    "RetryPolicy",
    "SearchAttributeIndexedValueType",
    "SearchAttributeKey",
    "SearchAttributePair",
    "SearchAttributeUpdate",
    "SearchAttributeValue",
    "SearchAttributeValueType",
    "SearchAttributeValues",
    "SearchAttributes",
    "TypedSearchAttributes",
    "WorkflowIDConflictPolicy",
    "WorkflowIDReusePolicy",
]


@dataclass
class RetryPolicy:
    """How an activity (or workflow) is retried after a failure.

    Defaults are Temporal's: first retry after 1 s, doubling each time, capped at 100 times the
    initial interval, unlimited attempts. Every computed delay is jittered by up to +/-10 % so
    that many agents hitting one rate-limited provider do not retry in lock step.

    Args:
        initial_interval: Delay before the first retry.
        backoff_coefficient: Multiplier applied to the delay after each retry; at least 1.0.
        maximum_interval: Upper bound on any delay; defaults to 100 x ``initial_interval``.
        maximum_attempts: Total attempts including the first; 0 means unlimited.
        non_retryable_error_types: Error type names (``ApplicationError.type`` or the
            exception class name) that fail at once instead of being retried.
    """

    initial_interval: timedelta = timedelta(seconds=1)
    backoff_coefficient: float = 2.0
    maximum_interval: timedelta | None = None
    maximum_attempts: int = 0
    non_retryable_error_types: Sequence[str] | None = field(default=None)

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        initial = self.initial_interval
        if not isinstance(initial, timedelta) or initial <= timedelta(0):
            raise ValueError(
                f"RetryPolicy.initial_interval must be a positive timedelta, got "
                f"{self.initial_interval!r}; for example timedelta(seconds=1)"
            )
        if self.backoff_coefficient < 1.0:
            raise ValueError(
                f"RetryPolicy.backoff_coefficient must be at least 1.0, got "
                f"{self.backoff_coefficient!r}; use 1.0 for a constant delay"
            )
        if self.maximum_interval is not None and (
            not isinstance(self.maximum_interval, timedelta)
            or self.maximum_interval < self.initial_interval
        ):
            raise ValueError(
                f"RetryPolicy.maximum_interval must be a timedelta no smaller than "
                f"initial_interval ({self.initial_interval}), got {self.maximum_interval!r}"
            )
        if not isinstance(self.maximum_attempts, int) or self.maximum_attempts < 0:
            raise ValueError(
                f"RetryPolicy.maximum_attempts must be an int >= 0 (0 means unlimited), got "
                f"{self.maximum_attempts!r}"
            )
        if isinstance(self.non_retryable_error_types, str):
            raise TypeError(
                "RetryPolicy.non_retryable_error_types must be a list of type names, got the "
                f"string {self.non_retryable_error_types!r}; wrap it: "
                f"[{self.non_retryable_error_types!r}]"
            )

    def _retry_delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """Delay after failed ``attempt`` (1-based) before the next one, jittered."""
        initial = self.initial_interval.total_seconds()
        maximum = (
            self.maximum_interval.total_seconds()
            if self.maximum_interval is not None
            else initial * 100
        )
        try:
            delay = min(initial * self.backoff_coefficient ** (attempt - 1), maximum)
        except OverflowError:  # thousands of attempts in: the cap has long been reached
            delay = maximum
        jitter = (rng or random).uniform(-0.1, 0.1)
        return timedelta(seconds=max(0.0, min(maximum, delay * (1 + jitter))))

    def _to_json(self) -> dict[str, Any]:
        return {
            "initial_interval": self.initial_interval.total_seconds(),
            "backoff_coefficient": self.backoff_coefficient,
            "maximum_interval": (
                self.maximum_interval.total_seconds() if self.maximum_interval else None
            ),
            "maximum_attempts": self.maximum_attempts,
            "non_retryable_error_types": list(self.non_retryable_error_types or []),
        }

    def _to_settled_json(self) -> dict[str, Any]:
        """The store form with the maximum interval filled in, as temporalio sends a policy
        to Temporal's server (which is what a workflow's ``info().retry_policy`` reports)."""
        out = self._to_json()
        if out["maximum_interval"] is None:
            out["maximum_interval"] = self.initial_interval.total_seconds() * 100
        return out

    @staticmethod
    def _from_json(data: dict[str, Any]) -> RetryPolicy:
        return RetryPolicy(
            initial_interval=timedelta(seconds=data["initial_interval"]),
            backoff_coefficient=data["backoff_coefficient"],
            maximum_interval=(
                timedelta(seconds=data["maximum_interval"])
                if data.get("maximum_interval")
                else None
            ),
            maximum_attempts=data["maximum_attempts"],
            non_retryable_error_types=data.get("non_retryable_error_types") or None,
        )


@dataclass(frozen=True)
class RawValue:
    """A value left encoded, as dynamic handlers receive their arguments; decode it with
    ``workflow.payload_converter().from_payload(raw.payload, SomeType)``."""

    payload: Any


class WorkflowIDReusePolicy(IntEnum):
    """Whether a workflow id may be used again once its previous run has closed."""

    ALLOW_DUPLICATE = 1
    ALLOW_DUPLICATE_FAILED_ONLY = 2
    REJECT_DUPLICATE = 3
    TERMINATE_IF_RUNNING = 4


class WorkflowIDConflictPolicy(IntEnum):
    """What to do when a workflow id is started while a run with that id is still open."""

    UNSPECIFIED = 0
    FAIL = 1
    USE_EXISTING = 2
    TERMINATE_EXISTING = 3


class QueryRejectCondition(IntEnum):
    """When a query to a closed workflow is refused rather than answered."""

    NONE = 1
    NOT_OPEN = 2
    NOT_COMPLETED_CLEANLY = 3


@dataclass(frozen=True)
class Priority:
    """Relative ordering of backlogged tasks (mirrors ``temporalio.common.Priority``).

    Of the tasks ready on a task queue, the lowest ``priority_key`` is claimed first (1 is the
    highest priority); without one, an activity takes its workflow's priority, a child its
    parent's, and a workflow 3 (the middle of Temporal's default range 1-5). The fairness
    fields are accepted and not yet applied.
    """

    priority_key: int | None = None
    fairness_key: str | None = None
    fairness_weight: float | None = None

    default: ClassVar[Priority]

    def __post_init__(self) -> None:
        if self.priority_key is not None and (
                not isinstance(self.priority_key, int) or self.priority_key < 1):
            raise ValueError(f"Priority(priority_key=...) must be a positive int (1 is the "
                             f"highest priority), got {self.priority_key!r}")
        if self.fairness_weight is not None and self.fairness_weight <= 0:
            raise ValueError(f"Priority(fairness_weight=...) must be positive, got "
                             f"{self.fairness_weight!r}")


Priority.default = Priority()


def _priority_key(priority: Any, where: str) -> int | None:
    """The ``priority_key`` the store orders claiming by (None: inherit, else the default)."""
    if priority is None:
        return None
    if not isinstance(priority, Priority):
        raise TypeError(f"{where}: priority must be a stalwart.common.Priority, e.g. "
                        f"Priority(priority_key=1), got {type(priority).__name__}")
    return priority.priority_key


class ActivityIDReusePolicy(IntEnum):
    UNSPECIFIED = 0
    ALLOW_DUPLICATE = 1
    ALLOW_DUPLICATE_FAILED_ONLY = 2
    REJECT_DUPLICATE = 3


class ActivityIDConflictPolicy(IntEnum):
    UNSPECIFIED = 0
    FAIL = 1
    USE_EXISTING = 2


SearchAttributeValue = str | int | float | bool | datetime | Sequence[str]
"""One typed search attribute value."""

SearchAttributeValues = list[str] | list[int] | list[float] | list[bool] | list[datetime]
"""The values of one attribute in the older dict form."""

SearchAttributes = Mapping[str, SearchAttributeValues]
"""The older dict form of search attributes: ``{"Name": [value]}``."""

SearchAttributeValueType = TypeVar("SearchAttributeValueType", str, int, float, bool, datetime,
                                   Sequence[str])
