"""Steering a pending activity: pause stops its retries until unpaused, update-options changes
the retry policy of its next attempt, reset starts it over from attempt 1."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowHandle
from stalwart.common import RetryPolicy
from stalwart.exceptions import ActivityError, ApplicationError, RPCError
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from ._support import ACTIVITY_TIMEOUT, RESULT_TIMEOUT, fast_retry

ATTEMPTS: Counter[str] = Counter()
SEEN_ATTEMPT: dict[str, int] = {}
HEALED: set[str] = set()


@activity.defn
async def flaky(token: str) -> str:
    ATTEMPTS[token] += 1
    SEEN_ATTEMPT[token] = activity.info().attempt
    if token not in HEALED:
        raise ApplicationError(f"attempt {activity.info().attempt} failed")
    return f"ok at attempt {activity.info().attempt}"


@activity.defn
async def quick(token: str) -> str:
    return token


@workflow.defn
class Flaky:
    @workflow.run
    async def run(self, token: str) -> str:
        try:
            return await workflow.execute_activity(
                flaky, token, activity_id="flaky", start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=fast_retry())
        except ActivityError as error:
            return f"gave up: {error.cause}"


@workflow.defn
class Quick:
    @workflow.run
    async def run(self, token: str) -> str:
        return await workflow.execute_activity(quick, token,
                                               start_to_close_timeout=ACTIVITY_TIMEOUT)


def worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[Flaky, Quick],
                  activities=[flaky, quick])


async def pending(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    activities = (await handle.describe()).pending_activities
    return activities[0] if activities else {}


async def paused_and_due(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    """Wait until the activity is paused, waiting, and its retry time has passed."""
    async def check() -> dict[str, Any] | None:
        info = await pending(handle)
        if info.get("state") == "paused" and info["next_attempt_at"] < time.time():
            return info
        return None
    found = await eventually(check, timeout=RESULT_TIMEOUT, what="a paused, due activity")
    assert found is not None
    return found


async def prove_worker_alive(client: Client, task_queue: str) -> None:
    """Another activity on the same queue runs to completion: the worker was claiming."""
    token = uuid.uuid4().hex
    result = await asyncio.wait_for(client.execute_workflow(
        Quick.run, token, id=f"quick-{token}", task_queue=task_queue), RESULT_TIMEOUT)
    assert result == token


async def test_pause_stops_retries_until_unpause_and_update_options_applies(
        client: Client, task_queue: str) -> None:
    token = uuid.uuid4().hex
    async with worker(client, task_queue):
        handle = await client.start_workflow(Flaky.run, token, id="wf", task_queue=task_queue)
        await eventually(lambda: _at_least(token, 2), timeout=RESULT_TIMEOUT,
                         what="two failed attempts")
        changed = await handle.pause_activity("flaky", reason="fixing the prompt")
        assert changed[0]["state"] in ("paused", "pause_requested")
        info = await paused_and_due(handle)
        assert info["paused"] and info["pause_info"]["reason"] == "fixing the prompt"
        attempts = ATTEMPTS[token]
        await prove_worker_alive(client, task_queue)
        # The retry time has passed and the worker claims other work: still no new attempt.
        assert ATTEMPTS[token] == attempts
        assert (await pending(handle))["state"] == "paused"
        # The next attempt is the last one the new policy allows.
        next_attempt = int(info["attempt"])
        await handle.update_activity_options(
            "flaky", retry_policy=RetryPolicy(maximum_attempts=next_attempt,
                                              initial_interval=fast_retry().initial_interval))
        assert (await pending(handle))["options"]["retry_policy"]["maximum_attempts"] == \
            next_attempt
        await handle.unpause_activity("flaky")
        result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    assert result.startswith("gave up")
    assert ATTEMPTS[token] == attempts + 1
    assert SEEN_ATTEMPT[token] == next_attempt


async def _at_least(token: str, count: int) -> bool:
    return ATTEMPTS[token] >= count


async def test_reset_activity_starts_over_from_attempt_one(client: Client,
                                                           task_queue: str) -> None:
    token = uuid.uuid4().hex
    async with worker(client, task_queue):
        handle = await client.start_workflow(Flaky.run, token, id="wf", task_queue=task_queue)
        await eventually(lambda: _at_least(token, 3), timeout=RESULT_TIMEOUT,
                         what="three failed attempts")
        await handle.pause_activity(activity_type="flaky")
        await paused_and_due(handle)
        await handle.reset_activity("flaky", keep_paused=True)
        info = await pending(handle)
        assert info["attempt"] == 1 and info["state"] == "paused"
        HEALED.add(token)
        await handle.reset_activity("flaky")  # unpauses
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == "ok at attempt 1"


async def test_steering_names_what_is_wrong(client: Client, task_queue: str) -> None:
    token = uuid.uuid4().hex
    HEALED.add(token)
    async with worker(client, task_queue):
        handle = await client.start_workflow(Flaky.run, token, id="wf", task_queue=task_queue)
        with pytest.raises(ValueError, match="exactly one of activity_id and activity_type"):
            await handle.pause_activity()
        with pytest.raises(ValueError, match="at least one option"):
            await handle.update_activity_options("flaky")
        with pytest.raises(ValueError, match="start_to_close_timeout"):
            await handle.update_activity_options("flaky", start_to_close_timeout=5)  # type: ignore[arg-type]
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
        with pytest.raises(RPCError, match="closed"):
            await handle.pause_activity("flaky")
        other = await client.start_workflow(Quick.run, "x", id="wf2", task_queue=task_queue)
        await asyncio.wait_for(other.result(), RESULT_TIMEOUT)
