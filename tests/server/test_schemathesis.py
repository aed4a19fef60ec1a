"""schemathesis drives every operation of the served OpenAPI document with generated requests,
valid and invalid ones, against the real server: every answer must be one the document lists
(status, content type, body schema), never a 5xx, and the store passes its integrity check
afterwards. The example count per operation is bounded to keep the suite's time modest."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from stalwart.client import Client
from stalwart.worker import Worker

from ._support import RunningServer


@pytest.fixture
async def seeded(client: Client, worker: Worker, task_queue: str) -> Client:
    # Generated requests often name the ids "0" or "a": those exist, and a worker runs them,
    # so queries and updates get answers instead of waiting out their timeouts.
    for workflow_id in ("a", "0"):
        await client.start_workflow("Greeter", "x", id=workflow_id, task_queue=task_queue)
    return client


@pytest.fixture
def api_schema(server: RunningServer, seeded: Client) -> Iterator[Any]:
    schema = schemathesis.openapi.from_url(f"{server.url}/api/openapi.json")
    yield schema
    path = seeded.store.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert server.request("GET", "/api/health").status == 200


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_generated_request_gets_a_documented_answer(case: Any) -> None:
    _bound_waits(case)
    response = case.call(timeout=30)
    assert response.status_code < 500 or response.status_code == 504, response.text[:500]
    if response.status_code in (400, 422) and "UTF-8 bytes long" in response.text:
        # Names are limited to 1,000 UTF-8 bytes, which JSON Schema cannot express (maxLength
        # counts characters): such a rejection of a schema-valid request is by design.
        assert any(len(str(value).encode()) > 1000 for value in _strings(case)), response.text
        return
    if response.status_code == 504:
        # No worker answered in time (a documented answer): e.g. a timeout of 1e-300 s.
        assert response.json()["error"]["code"] == "timeout"
        return
    case.validate_response(response)


def _bound_waits(case: Any) -> None:
    """Queries and updates wait for a worker (10 and 30 s by default); generated requests
    often name runs no worker polls. A shorter wait, still within the schema, keeps the run
    time modest without changing what is checked."""
    body = case.body
    if case.path.endswith(("/query", "/update")) and isinstance(body, dict):
        timeout = body.get("timeout")
        if timeout is None or (isinstance(timeout, int | float) and not isinstance(
                timeout, bool) and 0.2 < timeout <= 300):
            body["timeout"] = 0.2


def _strings(case: Any) -> list[str]:
    found: list[str] = []
    for part in (case.path_parameters, case.query, case.body):
        if isinstance(part, dict):
            found += [v for v in part.values() if isinstance(v, str)]
    return found
