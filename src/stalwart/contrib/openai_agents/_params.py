"""Options of the model activity (Temporal's ``ModelActivityParameters``)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ...common import RetryPolicy
from ...workflow import ActivityCancellationType

__all__ = ["ModelActivityParameters", "ModelSummaryProvider"]


class ModelSummaryProvider(abc.ABC):
    """Computes the summary shown for a model activity from what the model is asked."""

    @abc.abstractmethod
    def provide(self, agent: Any, instructions: str | None, input: Any) -> str:
        """The summary for one model call of ``agent``."""


@dataclass
class ModelActivityParameters:
    """How model calls run as activities (Temporal's names and defaults).

    Args:
        task_queue: Queue of the model activity; default: the workflow's.
        schedule_to_close_timeout / schedule_to_start_timeout / start_to_close_timeout /
            heartbeat_timeout: As for ``workflow.execute_activity``.
        retry_policy: Retries of a failed model call. A provider's ``Retry-After`` is used as
            the delay of the next attempt, over the policy's interval.
        cancellation_type: As for ``workflow.execute_activity``.
        versioning_intent: Accepted for compatibility; Stalwart has no worker versioning.
        summary_override: A fixed summary, or a :class:`ModelSummaryProvider`; default: the
            agent's name.
        priority: Accepted for compatibility (Stalwart orders tasks first come, first served).
        use_local_activity: Run model calls as local activities (recorded like ordinary ones).
        streaming_topic: Label of the events ``Runner.run_streamed`` publishes, for readers
            that follow several streams of one workflow; Stalwart needs no topic to stream
            (Temporal requires one), so ``None`` means ``"model"``.
        streaming_batch_interval: How often streamed events are written for readers.
    """

    task_queue: str | None = None
    schedule_to_close_timeout: timedelta | None = None
    schedule_to_start_timeout: timedelta | None = None
    start_to_close_timeout: timedelta | None = timedelta(seconds=60)
    heartbeat_timeout: timedelta | None = None
    retry_policy: RetryPolicy | None = None
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL
    versioning_intent: Any = None
    summary_override: str | ModelSummaryProvider | None = None
    priority: Any = None
    use_local_activity: bool = False
    streaming_topic: str | None = None
    streaming_batch_interval: timedelta = timedelta(milliseconds=100)

    def __post_init__(self) -> None:
        for name in ("schedule_to_close_timeout", "schedule_to_start_timeout",
                     "start_to_close_timeout", "heartbeat_timeout"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, timedelta)
                                      or value <= timedelta(0)):
                raise ValueError(f"ModelActivityParameters.{name} must be a positive "
                                 f"timedelta or None, got {value!r}")
        if self.streaming_topic is not None and (
                not isinstance(self.streaming_topic, str) or not self.streaming_topic
                or "/" in self.streaming_topic):
            raise ValueError("ModelActivityParameters.streaming_topic must be a non-empty str "
                             f"without '/', got {self.streaming_topic!r}")
        if self.streaming_batch_interval < timedelta(0):
            raise ValueError("ModelActivityParameters.streaming_batch_interval must not be "
                             f"negative, got {self.streaming_batch_interval!r}")
