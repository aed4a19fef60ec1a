"""The PostgreSQL server stopped and started in the middle of a run.

Restarting the server cuts every session on it, other test runs' included, so the test runs
only when asked (``STALWART_TEST_POSTGRES_RESTART=1``) or under CI. It controls the server with
``STALWART_TEST_POSTGRES_CONTROL`` (a command that takes ``stop`` or ``start``) or, failing
that, ``pg_ctlcluster`` for the cluster that listens on the test server's port. Without a way
to control the server it is skipped, loudly; a control command that exists but fails fails the
test under CI and skips it elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from stalwart.client import Client
from tests.helpers.processes import workers_registered
from tests.helpers.waiting import eventually

from . import workflows as w
from .conftest import admin_connect
from .test_processes import _completions, _scheduled_seqs, worker_processes

pytestmark = pytest.mark.slow

WORKFLOWS = 30
STEPS = 6


def _control_command() -> list[str] | None:
    """The command that stops or starts the server (the action is appended), or None."""
    given = os.environ.get("STALWART_TEST_POSTGRES_CONTROL")
    if given:
        return shlex.split(given)
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        return None
    with admin_connect() as conn:
        row = conn.execute("SELECT current_setting('port'), current_setting('data_directory')"
                           ).fetchone()
    assert row is not None
    port, data_directory = row
    listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True,
                             check=False)
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[2] == port and fields[5] == data_directory:
            return ["pg_ctlcluster", fields[0], fields[1]]
    return None


def _control(command: list[str], action: str) -> None:
    extra = ["-m", "fast"] if action == "stop" and command[0] == "pg_ctlcluster" else []
    done = subprocess.run([*command, action, *extra], capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        message = (f"could not {action} the PostgreSQL server with {shlex.join(command)} "
                   f"(exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(f"PostgreSQL restart test NOT RUN: {message}")


def _server_answers() -> bool:
    try:
        with admin_connect() as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


async def test_restart_the_server_mid_run_loses_nothing_and_records_nothing_twice(
        client: Client, db_url: str, task_queue: str, tmp_path: Path) -> None:
    if not (os.environ.get("STALWART_TEST_POSTGRES_RESTART") == "1" or os.environ.get("CI")):
        pytest.skip("PostgreSQL restart test NOT RUN: it restarts the server under every other "
                    "session; set STALWART_TEST_POSTGRES_RESTART=1 to run it")
    command = _control_command()
    if command is None:
        pytest.skip("PostgreSQL restart test NOT RUN: no way to stop and start the server "
                    "(no pg_ctlcluster cluster on its port); set STALWART_TEST_POSTGRES_CONTROL "
                    "to a command taking stop|start")
    workers = worker_processes(db_url, task_queue, tmp_path, max_activities=4)
    stopped = False
    try:
        workers.start(1)
        workers.start(2)
        await workers_registered(client, 2)
        handles = await asyncio.gather(*(
            client.start_workflow(w.SlowSteps.run, STEPS, id=f"restart-{n}",
                                  task_queue=task_queue) for n in range(WORKFLOWS)))

        async def some_progress() -> bool:
            return bool(await _completions(client, "restart-0"))

        await eventually(some_progress, timeout=60, what="the first activity to complete")
        stopped = True
        await asyncio.to_thread(_control, command, "stop")
        await asyncio.to_thread(_control, command, "start")
        stopped = False
        results = await asyncio.wait_for(
            asyncio.gather(*(handle.result() for handle in handles)), 180)
        assert workers.alive() == [1, 2], "a worker process died of the restart"
    finally:
        if stopped or not await asyncio.to_thread(_server_answers):
            # Whatever happened, the server is left running for everyone else.
            await asyncio.to_thread(subprocess.run, [*command, "start"], capture_output=True,
                                    timeout=120, check=False)
        workers.stop_all()
    assert results == [w.expected_steps_result(STEPS)] * WORKFLOWS
    for n in range(WORKFLOWS):
        per_seq = Counter(a["scheduledEventId"]
                          for a in await _completions(client, f"restart-{n}"))
        scheduled = await _scheduled_seqs(client, f"restart-{n}")
        assert len(scheduled) == STEPS and sorted(per_seq) == sorted(scheduled), (n, per_seq)
        assert set(per_seq.values()) == {1}, (n, per_seq)
