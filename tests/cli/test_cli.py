"""The real `stalwart` command, run in subprocesses against a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stalwart.client import Client
from stalwart.worker import Worker
from tests.cli.workflows import Greeter, greet

ROOT = Path(__file__).resolve().parents[2]
STALWART = [sys.executable, "-m", "stalwart._cli.main"]


# The command with `import temporalio` answered by stalwart, as code ported by the import
# swap sees it (to load the differential scenarios' workflows, written against temporalio).
SWAPPED = [sys.executable, "-c", "import sys; from tests.differential.side import "
           "install_import_swap; install_import_swap(); from stalwart._cli.main import cli; "
           "sys.argv[0] = 'stalwart'; cli(obj={})"]


async def run_cli(url: str, *args: str, expect: int = 0, swapped: bool = False) -> str:
    process = await asyncio.create_subprocess_exec(
        *(SWAPPED if swapped else STALWART), "--url", url, *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == expect, (args, stdout.decode(), stderr.decode())
    return stdout.decode() + stderr.decode()


@pytest.fixture
async def worker(client: Client, task_queue: str) -> AsyncIterator[Worker]:
    async with Worker(client, task_queue=task_queue, workflows=[Greeter],
                      activities=[greet]) as running:
        yield running


async def test_cli_starts_signals_queries_and_reads_a_workflow(
        db_url: str, client: Client, task_queue: str, worker: Worker) -> None:
    out = await run_cli(db_url, "-o", "json", "workflow", "start", "--type", "Greeter", "-t",
                        task_queue, "-w", "cli-1", "-i", '"dear "')
    assert json.loads(out)["workflow_id"] == "cli-1"
    await run_cli(db_url, "workflow", "signal", "-w", "cli-1", "--name", "add", "-i", '"ada"')
    await run_cli(db_url, "workflow", "signal", "-w", "cli-1", "--name", "add", "-i", '"bo"')
    assert json.loads(await run_cli(db_url, "workflow", "query", "-w", "cli-1", "--name",
                                    "count")) == 2
    await run_cli(db_url, "workflow", "signal", "-w", "cli-1", "--name", "finish")
    result = await run_cli(db_url, "workflow", "result", "-w", "cli-1", "--timeout", "30")
    assert json.loads(result) == ["hello dear ada", "hello dear bo"]
    listing = await run_cli(db_url, "workflow", "list")
    assert "cli-1" in listing and "COMPLETED" in listing
    listed = json.loads(await run_cli(db_url, "-o", "json", "workflow", "list", "--status",
                                      "completed"))
    assert [row["workflow_id"] for row in listed] == ["cli-1"]
    described = json.loads(await run_cli(db_url, "-o", "json", "workflow", "describe", "-w",
                                         "cli-1"))
    assert described["status"] == "COMPLETED"
    shown = await run_cli(db_url, "workflow", "show", "-w", "cli-1")
    assert "WorkflowExecutionSignaled" in shown and "ActivityTaskCompleted" in shown
    exported = json.loads(await run_cli(db_url, "-o", "json", "workflow", "show", "-w",
                                        "cli-1"))
    assert exported["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"


async def test_cli_cancel_and_terminate(db_url: str, client: Client, task_queue: str,
                                        worker: Worker) -> None:
    for workflow_id in ("cli-cancel", "cli-term"):
        await client.start_workflow(Greeter.run, "x", id=workflow_id, task_queue=task_queue)
    await run_cli(db_url, "workflow", "cancel", "-w", "cli-cancel")
    out = await run_cli(db_url, "workflow", "result", "-w", "cli-cancel", "--timeout", "30",
                        expect=1)
    assert "failed" in out and "cancel" in out.lower()
    await run_cli(db_url, "workflow", "terminate", "-w", "cli-term", "--reason", "enough")
    described = json.loads(await run_cli(db_url, "-o", "json", "workflow", "describe", "-w",
                                         "cli-term"))
    assert described["status"] == "TERMINATED"
    again = await run_cli(db_url, "workflow", "terminate", "-w", "cli-term", expect=1)
    assert "already closed" in again


async def test_cli_replay_catches_an_incompatible_change(
        db_url: str, client: Client, task_queue: str, worker: Worker) -> None:
    handle = await client.start_workflow(Greeter.run, "r", id="cli-replay",
                                         task_queue=task_queue)
    await handle.signal(Greeter.add, "x")
    await handle.signal(Greeter.finish)
    await handle.result()
    ok = await run_cli(db_url, "workflow", "replay", "-W", "tests.cli.workflows:Greeter",
                       "--type", "Greeter")
    assert ok.startswith("ok")
    failed = await run_cli(db_url, "workflow", "replay", "-W",
                           "tests.cli.workflows:ChangedGreeter", "--type", "Greeter", expect=1)
    assert "FAIL" in failed and "ActivityTaskScheduled" in failed


FIXTURES = ROOT / "tests" / "differential" / "fixtures"


async def test_cli_replays_exported_histories_from_temporal_and_stalwart(
        db_url: str, client: Client, task_queue: str, worker: Worker, tmp_path: Path) -> None:
    """`stalwart workflow replay FILE`: a file `temporal workflow show --output json` wrote,
    and one `stalwart workflow show --output json` wrote."""
    temporal_export = FIXTURES / "children" / "tq-parent#0.json"
    out = await run_cli(db_url, "workflow", "replay", str(temporal_export), "-W",
                        "tests.differential.scenarios.children:Parent", swapped=True)
    assert out.startswith("ok")
    handle = await client.start_workflow(Greeter.run, "r", id="cli-export",
                                         task_queue=task_queue)
    await handle.signal(Greeter.add, "x")
    await handle.signal(Greeter.finish)
    await handle.result()
    exported = tmp_path / "cli-export.json"
    exported.write_text(await run_cli(db_url, "-o", "json", "workflow", "show", "-w",
                                      "cli-export"))
    ok = await run_cli(db_url, "workflow", "replay", str(exported), "-W",
                       "tests.cli.workflows:Greeter")
    assert ok.startswith("ok") and "cli-export" in ok
    failed = await run_cli(db_url, "workflow", "replay", str(exported), "-W",
                           "tests.cli.workflows:ChangedGreeter", expect=1)
    assert "FAIL" in failed and "ActivityTaskScheduled" in failed
    broken = tmp_path / "broken.json"
    broken.write_text('{"events": [{"eventId": "1", "eventType": "EVENT_TYPE_NOPE"}]}')
    out = await run_cli(db_url, "workflow", "replay", str(broken), "-W",
                        "tests.cli.workflows:Greeter", expect=1)
    assert "event 1" in out and "eventType" in out


async def test_cli_bad_input_gets_clear_errors(db_url: str) -> None:
    out = await run_cli(db_url, "workflow", "start", "--type", "Greeter", "-t", "q", "-w",
                        "bad", "-i", "not json", expect=2)
    assert "--input #1 is not valid JSON" in out
    out = await run_cli(db_url, "workflow", "describe", "-w", "nope", expect=1)
    assert "not found" in out
    out = await run_cli("mysql://x/y", "workflow", "list", expect=1)
    assert "not understood" in out
    out = await run_cli(db_url, "db", "cleanup", "--older-than", "soon", expect=2)
    assert "not a duration" in out


async def test_cli_db_status_migrate_and_cleanup(db_url: str, client: Client, task_queue: str,
                                                 worker: Worker) -> None:
    handle = await client.start_workflow(Greeter.run, "c", id="cli-db", task_queue=task_queue)
    await handle.signal(Greeter.finish)
    await handle.result()
    assert "up to date" in await run_cli(db_url, "db", "migrate")
    status = json.loads(await run_cli(db_url, "-o", "json", "db", "status"))
    assert status["closed_runs"] == 1 and status["history_events"] > 0
    kept = await run_cli(db_url, "-o", "json", "db", "cleanup", "--older-than", "1h")
    assert json.loads(kept) == {"deleted_runs": 0}
    gone = await run_cli(db_url, "-o", "json", "db", "cleanup", "--older-than", "0s")
    assert json.loads(gone) == {"deleted_runs": 1}
    status = json.loads(await run_cli(db_url, "-o", "json", "db", "status"))
    assert status["closed_runs"] == 0 and status["history_events"] == 0
