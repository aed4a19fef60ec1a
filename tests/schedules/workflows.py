"""Workflows the schedule tests start, importable by the test process and worker processes."""

from __future__ import annotations

from stalwart import workflow
from stalwart.exceptions import ApplicationError


@workflow.defn
class Tick:
    """Finishes at once with its argument."""

    @workflow.run
    async def run(self, label: str) -> str:
        return label


@workflow.defn
class Hold:
    """Stays open until signalled ``finish``, or fails when signalled ``fail``."""

    def __init__(self) -> None:
        self._outcome = ""

    @workflow.signal
    def finish(self) -> None:
        self._outcome = "finish"

    @workflow.signal
    def fail(self) -> None:
        self._outcome = "fail"

    @workflow.run
    async def run(self, label: str) -> str:
        await workflow.wait_condition(lambda: self._outcome != "")
        if self._outcome == "fail":
            raise ApplicationError("asked to fail", non_retryable=True)
        return label
