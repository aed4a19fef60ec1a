"""The CLI's part of the hardening pass: bounded, finite options, clear errors instead of
tracebacks, terminal-safe output, and store URLs printed without their password. Real
subprocesses against real stores (SQLite and PostgreSQL where the store is involved)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from stalwart import workflow
from stalwart._store.base import StartWorkflowRequest
from stalwart.client import Client
from stalwart.converter import DataConverter, _payload_to_json
from stalwart.worker import Worker
from tests.helpers.postgres import server_url, with_schema

from .test_cli import ROOT, STALWART, run_cli

BOTH_STORES = pytest.mark.parametrize("store_backend", ["sqlite", "postgres"], indirect=True)
IDLE = "cli-attack-idle"


@BOTH_STORES
async def test_cleanup_batch_must_be_positive_and_deletes_nothing_otherwise(
        db_url: str, client: Client) -> None:
    handle = await client.start_workflow("Sink", id="kept", task_queue=IDLE)
    await handle.terminate(reason="closed, old enough to clean up")
    for batch in ("0", "-1", "1e3", "100001"):
        out = await run_cli(db_url, "db", "cleanup", "--older-than", "0s", "--batch", batch,
                            expect=2)
        assert "--batch" in out and "Traceback" not in out
    assert (await client.count_workflows()).count == 1
    out = await run_cli(db_url, "db", "cleanup", "--older-than", "99999999999w", expect=2)
    assert "longer than any date" in out
    gone = await run_cli(db_url, "-o", "json", "db", "cleanup", "--older-than", "0s",
                         "--batch", "1")
    assert json.loads(gone) == {"deleted_runs": 1}


async def test_numbers_must_be_finite_and_in_range(db_url: str, client: Client) -> None:
    for value in ("inf", "-inf", "nan", "1e400", "0", "-5", "1e12"):
        out = await run_cli(db_url, "workflow", "start", "--type", "T", "-t", IDLE, "-w", "t",
                            "--execution-timeout", value, expect=2)
        assert "--execution-timeout" in out and "Traceback" not in out, out
    for args in (("workflow", "result", "-w", "t", "--timeout", "nan"),
                 ("workflow", "query", "-w", "t", "--name", "q", "--timeout", "inf"),
                 ("workflow", "list", "--limit", str(10**30)),
                 ("workflow", "list", "--limit", "0")):
        out = await run_cli(db_url, *args, expect=2)
        assert "Traceback" not in out and "Invalid value" in out, out
    assert (await client.count_workflows()).count == 0


async def test_inputs_that_are_too_deep_or_not_json_numbers_get_clear_errors(
        db_url: str, client: Client) -> None:
    for value, message in (("[" * 50_000 + "]" * 50_000, "nested too deeply"),
                           ("[" * 150 + "]" * 150, "nested more than 100 levels"),
                           ("NaN", "not a JSON number"), ("[1, Infinity]", "not a JSON number")):
        out = await run_cli(db_url, "workflow", "start", "--type", "T", "-t", IDLE, "-w", "d",
                            "-i", value, expect=2)
        assert message in out and "Traceback" not in out, out
    out = await run_cli(db_url, "workflow", "start", "--type", "T", "-t", IDLE, "-w", "a\x1bb",
                        expect=1)
    assert "control character U+001B" in out and "\x1b" not in out
    assert (await client.count_workflows()).count == 0


@workflow.defn
class Unusual:
    @workflow.run
    async def run(self) -> list[float]:
        return [math.nan, -math.inf]


@BOTH_STORES
async def test_output_escapes_control_characters_and_stays_valid_json(
        db_url: str, client: Client, task_queue: str) -> None:
    # An id as an older version or workflow code may have stored it, past the client's checks.
    evil = "evil\x1b[2J\x1b]0;pwned\x07\nline"
    payload = _payload_to_json(DataConverter.default.payload_converter.to_payload("x"))
    await client.store.start_workflow(StartWorkflowRequest(
        workflow_id=evil, workflow_type="T\x1b[31m", task_queue=IDLE, input=[payload],
        run_id=str(uuid.uuid4()), random_seed=1), time.time())
    listing = await run_cli(db_url, "workflow", "list")
    assert "\x1b" not in listing and "\x07" not in listing
    assert "evil\\x1b[2J" in listing and "\\x0aline" in listing
    described = await run_cli(db_url, "workflow", "describe", "-w", evil)
    assert "\x1b" not in described and "evil\\x1b" in described
    as_json = json.loads(await run_cli(db_url, "-o", "json", "workflow", "list"))
    assert as_json[0]["workflow_id"] == evil  # JSON keeps the value, escaped by JSON itself

    async with Worker(client, task_queue=task_queue, workflows=[Unusual]):
        await client.execute_workflow(Unusual.run, id="unusual", task_queue=task_queue)
    result = await run_cli(db_url, "workflow", "result", "-w", "unusual")
    assert json.loads(result, parse_constant=_refuse) == ["NaN", "-Infinity"]


def _refuse(name: str) -> object:
    raise AssertionError(f"invalid JSON constant {name} printed")


def _secret_url(password: str, **query: str) -> str:
    base = with_schema(server_url(), f"t_{uuid.uuid4().hex[:10]}")
    scheme, rest = base.split("://", 1)
    user_host = rest.split("@", 1)
    user, host = (user_host if len(user_host) == 2 else ["postgres", user_host[0]])
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"{scheme}://{user.split(':')[0]}:{password}@{host}{extra}"


async def test_store_urls_are_printed_without_their_password(tmp_path: Path) -> None:
    password = "hunter2-very-secret"
    bad = _secret_url(password, pool_size="1")
    out = await run_cli(bad, "db", "status", expect=1)
    assert password not in out and "***" in out and "pool_size" in out
    out = await run_cli(bad.replace("postgresql://", "mysql://"), "workflow", "list", expect=1)
    assert password not in out and "***" in out
    sqlite_url = f"sqlite:///{tmp_path / 's.db'}"
    await run_cli(sqlite_url, "db", "migrate")
    status = await run_cli(sqlite_url, "-o", "json", "db", "status")
    assert json.loads(status)["url"] == sqlite_url


def test_start_dev_banner_hides_the_password(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    password = "hunter2-very-secret"
    url = _secret_url(password)
    env = {k: v for k, v in os.environ.items() if k not in ("STALWART_URL",
                                                            "STALWART_API_TOKEN")}
    process = subprocess.Popen([*STALWART, "server", "start-dev", "--url", url, "--port", "0",
                                "--generate-token"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        token_line = process.stderr.readline()
    finally:
        # SIGTERM, not SIGINT: the banner comes before the server installs its handlers, and
        # a process started from a background job of a non-interactive shell inherits
        # SIGINT ignored (POSIX), so an early SIGINT would be lost; SIGTERM's default stops it.
        process.terminate()
        try:
            process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert "Stalwart dev server" in banner, banner
    assert password not in banner and ":***@" in banner
    assert token_line.startswith("API token (shown only now; keep it): ")
    assert len(token_line.split(": ", 1)[1].strip()) >= 32


def test_weak_api_tokens_are_refused_by_the_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "STALWART_API_TOKEN"}
    done = subprocess.run([*STALWART, "server", "start-dev", "--ip", "0.0.0.0", "--port", "0",
                           "--api-token", "1"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "too weak" in done.stderr
    assert not (tmp_path / "stalwart.db").exists()
