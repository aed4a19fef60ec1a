"""``stalwart workflow reset|fork`` and ``stalwart activity ...`` as real subprocesses against
real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.worker import Worker
from tests.helpers.waiting import eventually
from tests.steering.test_activity_steering import ATTEMPTS, HEALED, Flaky, Quick, flaky, quick
from tests.steering.test_reset import EXECUTED, Steps, step

from .test_cli import run_cli

BOTH_STORES = pytest.mark.parametrize("store_backend", ["sqlite", "postgres"], indirect=True)


@BOTH_STORES
async def test_cli_resets_and_forks_a_workflow(db_url: str, client: Client,
                                               task_queue: str) -> None:
    token = uuid.uuid4().hex
    async with Worker(client, task_queue=task_queue, workflows=[Steps], activities=[step]):
        handle = await client.start_workflow(Steps.run, args=[token, 1], id="wf",
                                             task_queue=task_queue)

        async def three_done() -> bool:
            return EXECUTED[f"{token}:c"] == 1
        await eventually(three_done, timeout=30, what="a, b and c to run")
        await handle.signal(Steps.note, "n")
        await asyncio.wait_for(handle.result(), 30)
        out = await run_cli(db_url, "-o", "json", "workflow", "reset", "-w", "wf",
                            "--type", "LastWorkflowTask", "--reason", "from the CLI")
        new_run = json.loads(out)["run_id"]
        assert await asyncio.wait_for(
            client.get_workflow_handle("wf", run_id=new_run).result(), 30) == \
            ["A", "B", "C", "n"]
        out = await run_cli(db_url, "workflow", "fork", "-w", "wf", "--new-workflow-id",
                            "wf-2", "-t", "FirstWorkflowTask", "--reason", "try again",
                            "--reapply-exclude", "Signal")
        assert "Forked wf into wf-2" in out
        fork = client.get_workflow_handle("wf-2")

        async def redone() -> bool:
            return EXECUTED[f"{token}:c"] == 2
        await eventually(redone, timeout=30, what="the fork to redo the steps")
        assert (await fork.describe()).status == WorkflowExecutionStatus.RUNNING
        described = json.loads(await run_cli(db_url, "-o", "json", "workflow", "describe",
                                             "-w", "wf-2"))
        assert described["reset_from_workflow_id"] == "wf"
    assert EXECUTED[f"{token}:c"] == 2  # the reset reused c; the fork ran it again
    out = await run_cli(db_url, "workflow", "reset", "-w", "wf", "--event-id", "1",
                        "--reason", "r", expect=1)
    assert "event_id=1 is not a workflow task" in out and "Traceback" not in out
    out = await run_cli(db_url, "workflow", "reset", "-w", "wf", "--reason", "r", expect=1)
    assert "exactly one of event_id" in out


@BOTH_STORES
async def test_cli_pauses_updates_and_unpauses_an_activity(db_url: str, client: Client,
                                                           task_queue: str) -> None:
    token = uuid.uuid4().hex
    async with Worker(client, task_queue=task_queue, workflows=[Flaky, Quick],
                      activities=[flaky, quick]):
        handle = await client.start_workflow(Flaky.run, token, id="wf", task_queue=task_queue)

        async def failing() -> bool:
            return ATTEMPTS[token] >= 2
        await eventually(failing, timeout=30, what="failed attempts")
        out = await run_cli(db_url, "activity", "pause", "-w", "wf", "-a", "flaky",
                            "--reason", "look first")
        assert "Paused activity flaky" in out

        async def paused() -> bool:
            pending = (await handle.describe()).pending_activities
            return bool(pending) and pending[0]["state"] == "paused"
        await eventually(paused, timeout=30, what="the activity to be paused")
        out = await run_cli(db_url, "-o", "json", "activity", "update-options", "-w", "wf",
                            "-a", "flaky", "--start-to-close-timeout", "45s",
                            "--retry-maximum-attempts", "50")
        options = json.loads(out)[0]["options"]
        assert options["start_to_close_timeout"] == 45
        assert options["retry_policy"]["maximum_attempts"] == 50
        assert options["retry_policy"]["initial_interval"] == pytest.approx(0.02)
        out = await run_cli(db_url, "activity", "update-options", "-w", "wf", "-a", "flaky",
                            "--heartbeat-timeout", "soon", expect=2)
        assert "is not a duration" in out
        out = await run_cli(db_url, "activity", "pause", "-w", "wf", "-a", "nope", expect=1)
        assert "no pending activity with activity id 'nope'" in out
        await run_cli(db_url, "activity", "reset", "-w", "wf", "-a", "flaky", "--keep-paused")
        assert (await handle.describe()).pending_activities[0]["attempt"] == 1
        HEALED.add(token)
        out = await run_cli(db_url, "activity", "unpause", "-w", "wf", "--activity-type",
                            "flaky")
        assert "Unpaused activity flaky" in out
        assert await asyncio.wait_for(handle.result(), 30) == "ok at attempt 1"
