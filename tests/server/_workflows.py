"""Workflows and activities the server tests drive through the API and the UI."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from stalwart import activity, workflow
from stalwart.common import RetryPolicy
from stalwart.contrib.workflow_streams import WorkflowStream
from stalwart.exceptions import ApplicationError

TIMEOUT = timedelta(seconds=30)


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@activity.defn
async def step(index: int) -> int:
    return index


@activity.defn
async def never_ready() -> None:
    raise ApplicationError("the service is not ready yet")


@workflow.defn
class Greeter:
    """Greets, then waits for a 'finish' signal; has a query, a signal and an update."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.finished_with: str | None = None
        self.greeting = ""

    @workflow.signal
    def note(self, text: str) -> None:
        self.notes.append(text)

    @workflow.signal
    def finish(self, value: str) -> None:
        self.finished_with = value

    @workflow.query
    def state(self) -> dict[str, object]:
        return {"greeting": self.greeting, "notes": self.notes}

    @workflow.update
    def rename(self, name: str) -> str:
        self.greeting = f"Hello again, {name}!"
        return self.greeting

    @rename.validator
    def check_rename(self, name: str) -> None:
        if not name:
            raise ValueError("the new name must not be empty")

    @workflow.run
    async def run(self, name: str) -> dict[str, object]:
        self.greeting = await workflow.execute_activity(greet, name,
                                                        start_to_close_timeout=TIMEOUT)
        await workflow.wait_condition(lambda: self.finished_with is not None)
        return {"greeting": self.greeting, "finished_with": self.finished_with,
                "notes": self.notes}


@workflow.defn
class Fanout:
    """Runs ``n`` activities at once: about 2n events, a long history quickly."""

    @workflow.run
    async def run(self, n: int) -> int:
        results = await asyncio.gather(*[
            workflow.execute_activity(step, i, start_to_close_timeout=TIMEOUT)
            for i in range(n)])
        return sum(results)


@workflow.defn
class Stuck:
    """An activity that keeps failing and retrying: a pending activity with attempts."""

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            never_ready, start_to_close_timeout=TIMEOUT,
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=20),
                                     maximum_interval=timedelta(milliseconds=50)))


@workflow.defn
class Child:
    @workflow.run
    async def run(self, x: int) -> int:
        return x * 2


@workflow.defn
class Family:
    """A timer, a child workflow, then continue-as-new once."""

    @workflow.run
    async def run(self, rounds: int) -> int:
        await workflow.sleep(0.01)
        doubled: int = await workflow.execute_child_workflow(
            Child.run, rounds + 20, id=f"{workflow.info().workflow_id}-child-{rounds}")
        if rounds > 0:
            workflow.continue_as_new(rounds - 1)
        return doubled


@workflow.defn
class Streamer:
    """Publishes ``hello``, then a line per ``say`` signal, until ``finish``."""

    def __init__(self) -> None:
        self.stream = WorkflowStream()
        self.lines: list[str] = []
        self.done = False

    @workflow.signal
    def say(self, line: str) -> None:
        self.lines.append(line)

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.run
    async def run(self) -> int:
        self.stream.publish("lines", "hello")
        self.said = 0
        while True:
            await workflow.wait_condition(lambda: self.done or self.said < len(self.lines))
            while self.said < len(self.lines):
                self.stream.publish("lines", self.lines[self.said])
                self.said += 1
            if self.done:
                return self.said


@workflow.defn
class Local:
    """A patch, then local activities: markers where the store keeps activity rows."""

    @workflow.run
    async def run(self, n: int) -> int:
        total = 0
        if workflow.patched("sum-locally"):
            for i in range(n):
                total += await workflow.execute_local_activity(step, i,
                                                               start_to_close_timeout=TIMEOUT)
        await workflow.sleep(0.01)
        return total


ALL_WORKFLOWS = [Greeter, Fanout, Stuck, Child, Family, Streamer, Local]
ALL_ACTIVITIES = [greet, step, never_ready]
