"""Deciding whether a failed activity attempt is retried, and when."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..common import RetryPolicy
from ..exceptions import RetryState, TimeoutType


@dataclass
class RetryDecision:
    retry_at: float | None
    retry_state: RetryState


def decide(policy_json: dict[str, Any] | None, attempt: int, failure: dict[str, Any],
           now: float, schedule_to_close_deadline: float | None) -> RetryDecision:
    """Retry at a time, or give up with the reason Temporal would report."""
    policy = RetryPolicy._from_json(policy_json) if policy_json else RetryPolicy()
    app = failure.get("application_failure_info")
    if app is not None:
        if app.get("non_retryable"):
            return RetryDecision(None, RetryState.NON_RETRYABLE_FAILURE)
        if app.get("type") in set(policy.non_retryable_error_types or ()):
            return RetryDecision(None, RetryState.NON_RETRYABLE_FAILURE)
    timeout = failure.get("timeout_failure_info")
    if timeout is not None and timeout.get("timeout_type") in (
            TimeoutType.SCHEDULE_TO_START, TimeoutType.SCHEDULE_TO_CLOSE):
        # schedule-to-start and schedule-to-close timeouts end the activity for good.
        return RetryDecision(None, RetryState.TIMEOUT)
    if policy.maximum_attempts and attempt >= policy.maximum_attempts:
        return RetryDecision(None, RetryState.MAXIMUM_ATTEMPTS_REACHED)
    if app is not None and app.get("next_retry_delay") is not None:
        delay = float(app["next_retry_delay"])
    elif failure.get("_worker_lost"):
        delay = 0.0  # not the activity's fault: run it again at once
    else:
        delay = policy._retry_delay(attempt, random.Random()).total_seconds()
    retry_at = now + delay
    if schedule_to_close_deadline is not None and retry_at >= schedule_to_close_deadline:
        return RetryDecision(None, RetryState.TIMEOUT)
    return RetryDecision(retry_at, RetryState.IN_PROGRESS)
