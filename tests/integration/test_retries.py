"""Activity retries: attempts counted by the engine, retry policies, non-retryable errors,
``next_retry_delay`` and heartbeat details carried from one attempt to the next."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.common import RetryPolicy
from stalwart.exceptions import ActivityError, ApplicationError, RetryState
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT

# Attempts as each activity saw them, keyed by workflow id so tests do not interfere.
_attempts: dict[str, list[int]] = {}
_attempt_times: dict[str, list[tuple[datetime, datetime]]] = {}
_heartbeat_seen: dict[str, list[list[object]]] = {}


def _record() -> int:
    info = activity.info()
    _attempts.setdefault(info.workflow_id, []).append(info.attempt)
    _attempt_times.setdefault(info.workflow_id, []).append(
        (info.started_time, info.current_attempt_scheduled_time))
    return info.attempt


class QuotaExceededError(Exception):
    pass


@activity.defn
async def flaky(failures: int) -> int:
    attempt = _record()
    if attempt <= failures:
        raise RuntimeError(f"transient failure on attempt {attempt}")
    return attempt


@activity.defn
def flaky_sync(failures: int) -> int:
    attempt = _record()
    if attempt <= failures:
        raise RuntimeError(f"transient failure on attempt {attempt}")
    return attempt


@activity.defn
async def always_fails() -> None:
    attempt = _record()
    raise ApplicationError(f"broken on attempt {attempt}", type="Broken")


@activity.defn
async def quota_exceeded() -> None:
    _record()
    raise QuotaExceededError("quota used up")


@activity.defn
async def typed_non_retryable() -> None:
    _record()
    raise ApplicationError("bad request", type="BadRequest")


@activity.defn
async def flagged_non_retryable() -> None:
    _record()
    raise ApplicationError("never works", non_retryable=True)


@activity.defn
async def asks_for_delay() -> int:
    attempt = _record()
    if attempt == 1:
        raise ApplicationError("rate limited", next_retry_delay=timedelta(milliseconds=300))
    return attempt


@activity.defn
async def resumes_from_heartbeat() -> str:
    info = activity.info()
    _heartbeat_seen.setdefault(info.workflow_id, []).append(list(info.heartbeat_details))
    if info.attempt == 1:
        activity.heartbeat("checkpoint", 41)
        raise RuntimeError("crashed after the checkpoint")
    step, count = info.heartbeat_details
    return f"{step}:{count + 1}"


@activity.defn
def resumes_from_heartbeat_sync() -> str:
    info = activity.info()
    _heartbeat_seen.setdefault(info.workflow_id, []).append(list(info.heartbeat_details))
    if info.attempt == 1:
        activity.heartbeat("checkpoint", 41)
        raise RuntimeError("crashed after the checkpoint")
    step, count = info.heartbeat_details
    return f"{step}:{count + 1}"


@activity.defn
async def resumes_from_flushed_heartbeat() -> str:
    info = activity.info()
    _heartbeat_seen.setdefault(info.workflow_id, []).append(list(info.heartbeat_details))
    if info.attempt == 1:
        activity.heartbeat("checkpoint", 41)
        # Fail while the heartbeat is (probably) on its way to the store, not before it left.
        for _ in range(5):
            await asyncio.sleep(0)
        raise RuntimeError("crashed after the checkpoint")
    step, count = info.heartbeat_details
    return f"{step}:{count + 1}"


@dataclass
class PolicySpec:
    initial: float = 0.02
    maximum: float = 0.05
    attempts: int = 0
    non_retryable: list[str] | None = None


@workflow.defn
class RetryWorkflow:
    """Runs one activity by name and reports what the workflow saw."""

    @workflow.run
    async def run(self, name: str, failures: int, policy: PolicySpec) -> list[object]:
        retry_policy = RetryPolicy(
            initial_interval=timedelta(seconds=policy.initial),
            maximum_interval=timedelta(seconds=policy.maximum),
            maximum_attempts=policy.attempts,
            non_retryable_error_types=policy.non_retryable,
        )
        args = [failures] if name in ("flaky", "flaky_sync") else []
        try:
            result = await workflow.execute_activity(
                name, args=args, start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=retry_policy)
        except ActivityError as error:
            cause = error.__cause__
            return ["ActivityError", type(cause).__name__, getattr(cause, "type", None),
                    cause.message if isinstance(cause, ApplicationError) else str(cause),
                    int(error.retry_state or 0)]
        return ["ok", result]


def _workflow_id(name: str) -> str:
    return f"retry-{name}"


async def _run(client: Client, task_queue: str, name: str, failures: int = 0,
               policy: PolicySpec | None = None) -> list[object]:
    async with Worker(client, task_queue=task_queue, workflows=[RetryWorkflow],
                      activities=[flaky, flaky_sync, always_fails, quota_exceeded,
                                  typed_non_retryable, flagged_non_retryable, asks_for_delay,
                                  resumes_from_heartbeat, resumes_from_heartbeat_sync,
                                  resumes_from_flushed_heartbeat]):
        result: list[object] = await client.execute_workflow(
            RetryWorkflow.run, args=[name, failures, policy or PolicySpec()], id=_workflow_id(name),
            task_queue=task_queue)
    return result


async def test_retry_async_activity_succeeds_after_failures(client: Client,
                                                            task_queue: str) -> None:
    result = await _run(client, task_queue, "flaky", failures=2)
    assert result == ["ok", 3]
    assert _attempts.pop(_workflow_id("flaky")) == [1, 2, 3]


async def test_retry_thread_pool_activity_succeeds_after_failures(client: Client,
                                                                  task_queue: str) -> None:
    result = await _run(client, task_queue, "flaky_sync", failures=3)
    assert result == ["ok", 4]
    assert _attempts.pop(_workflow_id("flaky_sync")) == [1, 2, 3, 4]


async def test_retry_maximum_attempts_exhausted_raises_activity_error(client: Client,
                                                                      task_queue: str) -> None:
    result = await _run(client, task_queue, "always_fails", policy=PolicySpec(attempts=3))
    assert result == ["ActivityError", "ApplicationError", "Broken", "broken on attempt 3",
                      int(RetryState.MAXIMUM_ATTEMPTS_REACHED)]
    assert _attempts.pop(_workflow_id("always_fails")) == [1, 2, 3]


async def test_retry_non_retryable_error_types_match_exception_class_name(
        client: Client, task_queue: str) -> None:
    result = await _run(client, task_queue, "quota_exceeded",
                        policy=PolicySpec(non_retryable=["QuotaExceededError"]))
    assert result[:4] == ["ActivityError", "ApplicationError", "QuotaExceededError",
                          "quota used up"]
    assert result[4] == int(RetryState.NON_RETRYABLE_FAILURE)
    assert _attempts.pop(_workflow_id("quota_exceeded")) == [1]


async def test_retry_non_retryable_error_types_match_application_error_type(
        client: Client, task_queue: str) -> None:
    result = await _run(client, task_queue, "typed_non_retryable",
                        policy=PolicySpec(non_retryable=["BadRequest"]))
    assert result[:3] == ["ActivityError", "ApplicationError", "BadRequest"]
    assert _attempts.pop(_workflow_id("typed_non_retryable")) == [1]


async def test_retry_application_error_non_retryable_flag_stops_retries(
        client: Client, task_queue: str) -> None:
    result = await _run(client, task_queue, "flagged_non_retryable")
    assert result[:4] == ["ActivityError", "ApplicationError", None, "never works"]
    assert result[4] == int(RetryState.NON_RETRYABLE_FAILURE)
    assert _attempts.pop(_workflow_id("flagged_non_retryable")) == [1]


async def test_retry_next_retry_delay_overrides_policy_interval(client: Client,
                                                                task_queue: str) -> None:
    # The policy alone would wait about 30 s; the error asks for 0.3 s.
    result = await _run(client, task_queue, "asks_for_delay",
                        policy=PolicySpec(initial=30, maximum=30))
    assert result == ["ok", 2]
    first, second = _attempt_times.pop(_workflow_id("asks_for_delay"))
    _attempts.pop(_workflow_id("asks_for_delay"))
    first_started = first[0]
    second_scheduled = second[1]
    gap = (second_scheduled - first_started).total_seconds()
    # The second attempt was scheduled for "failure time + 0.3 s", never before it.
    assert gap >= 0.3
    assert gap < 27  # 30 s minus the policy's 10 % jitter: the policy interval was not used


@pytest.mark.parametrize("name", ["resumes_from_heartbeat", "resumes_from_heartbeat_sync",
                                  "resumes_from_flushed_heartbeat"])
async def test_retry_heartbeat_details_reach_the_next_attempt(client: Client, task_queue: str,
                                                              name: str) -> None:
    result = await _run(client, task_queue, name)
    assert result == ["ok", "checkpoint:42"]
    assert _heartbeat_seen.pop(_workflow_id(name)) == [[], ["checkpoint", 41]]


async def test_retry_policy_from_workflow_is_visible_to_the_activity(client: Client,
                                                                     task_queue: str) -> None:
    seen: list[RetryPolicy | None] = []

    @activity.defn(name="flaky")
    async def capture(failures: int) -> int:
        seen.append(activity.info().retry_policy)
        return 0

    async with Worker(client, task_queue=task_queue, workflows=[RetryWorkflow],
                      activities=[capture]):
        await client.execute_workflow(RetryWorkflow.run, args=["flaky", 0, PolicySpec(attempts=7)],
                                      id="retry-policy-info", task_queue=task_queue)
    assert len(seen) == 1 and seen[0] is not None
    assert seen[0].maximum_attempts == 7
    assert seen[0].initial_interval == timedelta(milliseconds=20)
