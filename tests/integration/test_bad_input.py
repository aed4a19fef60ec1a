"""Mistakes get clear errors, at the call site when possible, and never take a worker down."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.common import RetryPolicy
from stalwart.exceptions import ActivityError, StoreError
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT, wait_for_event


@activity.defn
async def registered() -> str:
    return "registered"


@workflow.defn
class CallsMissingActivityWorkflow:
    @workflow.run
    async def run(self) -> list[str]:
        try:
            await workflow.execute_activity("not_registered_anywhere", result_type=str,
                                            start_to_close_timeout=ACTIVITY_TIMEOUT,
                                            retry_policy=RetryPolicy(maximum_attempts=1))
        except ActivityError as error:
            return [type(error.__cause__).__name__, str(error.__cause__)]
        return ["completed"]


@workflow.defn
class NoTimeoutWorkflow:
    @workflow.run
    async def run(self) -> str:
        result: str = await workflow.execute_activity(registered)
        return result


@workflow.defn
class SimpleWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "simple"


@dataclass
class Envelope:
    label: str
    payload: object


async def test_bad_input_unregistered_workflow_type_fails_task_and_worker_survives(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[SimpleWorkflow]):
        orphan = await client.start_workflow("NoSuchWorkflow", id="orphan",
                                             task_queue=task_queue)
        await wait_for_event(orphan, "WorkflowTaskFailed")
        assert await client.execute_workflow(SimpleWorkflow.run, id="served",
                                             task_queue=task_queue) == "simple"
    assert (await orphan.describe()).status == WorkflowExecutionStatus.RUNNING
    history = await orphan.fetch_history()
    failed = next(e for e in history.events if e.event_type == "WorkflowTaskFailed")
    message = failed.attributes["failure"]["message"]
    assert "NoSuchWorkflow" in message and "not registered" in message
    assert "SimpleWorkflow" in message  # names what the worker does have


async def test_bad_input_unregistered_activity_fails_with_its_name(client: Client,
                                                                   task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[CallsMissingActivityWorkflow],
                      activities=[registered]):
        cause_type, message = await client.execute_workflow(
            CallsMissingActivityWorkflow.run, id="missing-activity", task_queue=task_queue)
    assert cause_type == "ApplicationError"
    assert "not_registered_anywhere" in message and "not registered" in message
    assert "available activities: registered" in message  # lists what the worker has


async def test_bad_input_unserializable_argument_names_type_and_path(client: Client,
                                                                     task_queue: str) -> None:
    with pytest.raises(TypeError) as raised:
        await client.start_workflow(SimpleWorkflow.run, Envelope("x", [1, object()]),
                                    id="unserializable", task_queue=task_queue)
    message = str(raised.value)
    assert "builtins.object" in message
    assert "args[0].payload[1]" in message


async def test_bad_input_activity_without_timeout_names_the_fix(client: Client,
                                                                task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[NoTimeoutWorkflow],
                      activities=[registered]):
        handle = await client.start_workflow(NoTimeoutWorkflow.run, id="no-timeout",
                                             task_queue=task_queue)
        await wait_for_event(handle, "WorkflowTaskFailed")
    history = await handle.fetch_history()
    failed = next(e for e in history.events if e.event_type == "WorkflowTaskFailed")
    message = failed.attributes["failure"]["message"]
    assert "start_to_close_timeout" in message
    assert "'registered'" in message


async def test_bad_input_worker_default_activity_timeout_fills_in(client: Client,
                                                                  task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[NoTimeoutWorkflow],
                      activities=[registered], default_activity_timeout=timedelta(seconds=5)):
        assert await client.execute_workflow(NoTimeoutWorkflow.run, id="default-timeout",
                                             task_queue=task_queue) == "registered"


@pytest.mark.parametrize("interval", [timedelta(0), timedelta(seconds=-1)])
def test_bad_input_retry_policy_rejects_non_positive_initial_interval(
        interval: timedelta) -> None:
    with pytest.raises(ValueError, match="initial_interval must be a positive timedelta"):
        RetryPolicy(initial_interval=interval)


def test_bad_input_retry_policy_rejects_maximum_interval_below_initial() -> None:
    with pytest.raises(ValueError, match="maximum_interval"):
        RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(0))


async def test_bad_input_start_workflow_without_id(client: Client, task_queue: str) -> None:
    with pytest.raises(ValueError, match="needs id="):
        await client.start_workflow(SimpleWorkflow.run, task_queue=task_queue)


async def test_bad_input_non_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 10)
    with pytest.raises(StoreError, match="not a SQLite database"):
        await Client.connect(f"sqlite:///{path}")
    assert path.read_text().startswith("these are my notes")


async def test_bad_input_sqlite_file_of_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="another application") as raised:
        await Client.connect(f"sqlite:///{path}")
    assert "customers" in str(raised.value)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert tables == {"customers"}  # nothing was added to the foreign file
