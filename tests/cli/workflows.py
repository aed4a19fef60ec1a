"""Workflows the CLI tests drive (importable as tests.cli.workflows for `replay`)."""

from __future__ import annotations

from datetime import timedelta

from stalwart import activity, workflow


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@workflow.defn
class Greeter:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.done = False

    @workflow.signal
    def add(self, name: str) -> None:
        self.names.append(name)

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def count(self) -> int:
        return len(self.names)

    @workflow.run
    async def run(self, prefix: str) -> list[str]:
        await workflow.wait_condition(lambda: self.done)
        return [await workflow.execute_activity(greet, f"{prefix}{name}",
                                                start_to_close_timeout=timedelta(seconds=10))
                for name in self.names]


@workflow.defn(name="Greeter")
class ChangedGreeter:
    """Greeter with an incompatible change: it no longer waits before greeting."""

    @workflow.run
    async def run(self, prefix: str) -> list[str]:
        return [await workflow.execute_activity(greet, prefix,
                                                start_to_close_timeout=timedelta(seconds=10))]
