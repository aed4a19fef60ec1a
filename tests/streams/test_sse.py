"""The stream endpoint of the dev server over real HTTP, on both stores: Server-Sent Events,
a disconnect, and a resume with ``Last-Event-ID``."""

from __future__ import annotations

import asyncio
import http.client
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from stalwart.client import Client
from stalwart.worker import Worker
from tests.server._support import RunningServer, start_server, wid
from tests.server._workflows import Streamer

DEADLINE = 60.0


@pytest.fixture
def server(db_url: str, client: Client) -> Iterator[RunningServer]:
    running = start_server(db_url)
    try:
        yield running
    finally:
        running.stop()


def read_events(server: RunningServer, path: str, *, count: int | None,
                headers: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Events of one SSE response (comments skipped) until ``count`` items or ``end``; then
    the connection is dropped, as a browser tab that goes away drops it."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=DEADLINE)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        if response.status != 200:
            return response.status, [json.loads(response.read())]
        assert response.getheader("content-type", "").startswith("text/event-stream")
        events: list[dict[str, Any]] = []
        fields: dict[str, str] = {}
        while True:
            line = response.readline().decode()
            assert line, "the server closed the stream before its end event"
            line = line.rstrip("\n")
            if line:
                if not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
                continue
            if "event" in fields:
                event = {"event": fields["event"], "id": fields.get("id"),
                         "data": json.loads(fields.get("data", "null"))}
                events.append(event)
                if event["event"] == "end":
                    return 200, events
                if count is not None and sum(e["event"] == "item" for e in events) >= count:
                    return 200, events
            fields = {}
    finally:
        conn.close()


async def test_sse_resumes_with_last_event_id(client: Client, server: RunningServer,
                                              task_queue: str) -> None:
    workflow_id = f"sse-{uuid.uuid4().hex[:8]}"
    path = f"/api/workflows/{wid(workflow_id)}/stream"
    async with Worker(client, task_queue=task_queue, workflows=[Streamer]):
        handle = await client.start_workflow(Streamer.run, id=workflow_id,
                                             task_queue=task_queue)
        await handle.signal(Streamer.say, "a")
        await handle.signal(Streamer.say, "b")
        status, first = await asyncio.to_thread(read_events, server, path, count=3)
        assert status == 200
        assert [(e["id"], e["data"]["data"]) for e in first] == [
            ("0", "hello"), ("1", "a"), ("2", "b")]
        assert first[0]["data"]["producer"] == "workflow"
        # Disconnected; more is published meanwhile; the reader comes back.
        await handle.signal(Streamer.say, "c")
        await handle.signal(Streamer.say, "d")
        await handle.signal(Streamer.finish)
        assert await handle.result() == 4
        status, rest = await asyncio.to_thread(
            read_events, server, path, count=None, headers={"Last-Event-ID": first[-1]["id"]})
    assert status == 200
    assert [(e["event"], e["id"]) for e in rest] == [
        ("item", "3"), ("item", "4"), ("end", None)]
    assert [e["data"]["data"] for e in rest[:2]] == ["c", "d"]
    # Query parameters: an offset, a topic nobody publishes to.
    _, from_two = await asyncio.to_thread(read_events, server, path + "?from_offset=2",
                                          count=None)
    assert [e["id"] for e in from_two] == ["2", "3", "4", None]
    _, other = await asyncio.to_thread(read_events, server, path + "?topic=other", count=None)
    assert [e["event"] for e in other] == ["end"]


async def test_sse_bad_requests_are_named(client: Client, server: RunningServer,
                                          task_queue: str) -> None:
    workflow_id = f"sse-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[Streamer]):
        handle = await client.start_workflow(Streamer.run, id=workflow_id,
                                             task_queue=task_queue)
        path = f"/api/workflows/{wid(workflow_id)}/stream"
        status, body = await asyncio.to_thread(read_events, server,
                                               path + "?from_offset=-1", count=None)
        assert status == 400 and "from_offset" in json.dumps(body)
        status, body = await asyncio.to_thread(read_events, server, path, count=None,
                                               headers={"Last-Event-ID": "x"})
        assert status == 400 and "Last-Event-ID" in json.dumps(body)
        status, body = await asyncio.to_thread(
            read_events, server, "/api/workflows/nobody/stream", count=None)
        assert status == 404 and "nobody" in json.dumps(body)
        await handle.signal(Streamer.finish)
        await handle.result()
