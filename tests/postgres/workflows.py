"""Workflows and activities for the PostgreSQL tests; importable by the worker processes."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

from stalwart import activity, workflow
from stalwart.common import RetryPolicy

ACTIVITY_TIMEOUT = timedelta(seconds=20)
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=20),
                         maximum_interval=timedelta(milliseconds=50))
STEPS = 10

# In-process bookkeeping for the tests that run workers in the test process.
attempts: dict[str, list[int]] = {}
gates: dict[str, asyncio.Event] = {}


@activity.defn
async def square(n: int) -> int:
    return n * n


@activity.defn
async def slow_square(n: int) -> int:
    # Long enough that one worker cannot take the whole queue before another looks.
    await asyncio.sleep(0.02)
    return n * n


@activity.defn
async def flaky(key: str, failures: int) -> str:
    attempt = activity.info().attempt
    attempts.setdefault(key, []).append(attempt)
    if attempt <= failures:
        raise RuntimeError(f"attempt {attempt} fails on purpose")
    return f"{key} worked on attempt {attempt}"


@activity.defn
async def wait_for_gate(key: str) -> str:
    """Blocks until the test opens the gate, so the test can act while it is in flight."""
    await gates[key].wait()
    return f"{key} passed"


@workflow.defn
class Steps:
    """``steps`` activities in a row, with an optional durable sleep in the middle."""

    @workflow.run
    async def run(self, steps: int, sleep_seconds: float) -> int:
        total = 0
        for n in range(1, steps + 1):
            total += await workflow.execute_activity(
                square, n, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=FAST_RETRY)
            if sleep_seconds and n == steps // 2:
                await workflow.sleep(sleep_seconds)
        return total


@workflow.defn
class SlowSteps:
    @workflow.run
    async def run(self, steps: int) -> int:
        total = 0
        for n in range(1, steps + 1):
            total += await workflow.execute_activity(
                slow_square, n, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=FAST_RETRY)
        return total


@workflow.defn
class SignalledSteps:
    """``steps`` activities in a row while signals arrive; returns the activities' total and
    the signals in the order the workflow saw them, once all ``signals`` have come."""

    def __init__(self) -> None:
        self.received: list[int] = []

    @workflow.signal
    def nudge(self, n: int) -> None:
        self.received.append(n)

    @workflow.run
    async def run(self, steps: int, signals: int) -> tuple[int, list[int]]:
        total = 0
        for n in range(1, steps + 1):
            total += await workflow.execute_activity(
                square, n, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=FAST_RETRY)
        await workflow.wait_condition(lambda: len(self.received) >= signals)
        return total, self.received


def expected_steps_result(steps: int = STEPS) -> int:
    return sum(n * n for n in range(1, steps + 1))


@workflow.defn
class Retrying:
    @workflow.run
    async def run(self, key: str, failures: int) -> str:
        result: str = await workflow.execute_activity(
            flaky, args=[key, failures], start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=FAST_RETRY)
        return result


@workflow.defn
class Gated:
    @workflow.run
    async def run(self, keys: list[str]) -> list[str]:
        return [await workflow.execute_activity(wait_for_gate, key,
                                                start_to_close_timeout=ACTIVITY_TIMEOUT)
                for key in keys]


@workflow.defn
class Mailbox:
    """Collects signals until told to close; answers queries and updates on the way."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.closed = False
        self.limit = 0

    @workflow.signal
    def add(self, message: str) -> None:
        self.messages.append(message)

    @workflow.signal
    def close(self) -> None:
        self.closed = True

    @workflow.query
    def count(self) -> int:
        return len(self.messages)

    @workflow.update
    def set_limit(self, limit: int) -> int:
        previous, self.limit = self.limit, limit
        return previous

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.closed)
        return [*self.messages, f"limit={self.limit}"]


@workflow.defn
class Child:
    @workflow.run
    async def run(self, n: int) -> int:
        squared: int = await workflow.execute_activity(
            square, n, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return squared


@workflow.defn
class Parent:
    @workflow.run
    async def run(self, numbers: list[int]) -> int:
        me = workflow.info().workflow_id
        results = await asyncio.gather(*(
            workflow.execute_child_workflow(Child.run, n, id=f"{me}-child-{n}")
            for n in numbers))
        return sum(results)


@workflow.defn
class Countdown:
    @workflow.run
    async def run(self, remaining: int, runs: int) -> int:
        if remaining > 0:
            workflow.continue_as_new(args=[remaining - 1, runs + 1])
        return runs


@workflow.defn
class Sleeper:
    """Waits (durably) far longer than any test: only cancel or terminate ends it early."""

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.sleep(3600)
        except asyncio.CancelledError:
            return "cleaned up after cancel"
        return "slept"


# Set in a worker process whose first attempts must still be running when it is killed.
HOLD_VARIABLE = "STALWART_TEST_HOLD_FIRST_ATTEMPTS"


@activity.defn
async def held_first_attempt(n: int) -> int:
    if activity.info().attempt == 1 and os.environ.get(HOLD_VARIABLE):
        await asyncio.sleep(3600)  # until the process is killed
    return n * n


@workflow.defn
class Held:
    @workflow.run
    async def run(self, n: int) -> int:
        # A start-to-close timeout far past the test's own: only liveness hands the work over.
        result: int = await workflow.execute_activity(
            held_first_attempt, n, start_to_close_timeout=timedelta(hours=1))
        return result
