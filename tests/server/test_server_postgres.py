"""The dev server over a PostgreSQL store: lists, counts, pages and metrics read the same."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request

import uvicorn

from stalwart._server.app import ServerConfig, create_app
from stalwart.client import Client
from stalwart.worker import Worker
from tests.cli.workflows import Greeter, greet
from tests.helpers.postgres import fresh_schema_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_server_serves_a_postgres_store() -> None:
    with fresh_schema_url() as url:
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(ServerConfig(url=url, port=port)),
                                               host="127.0.0.1", port=port,
                                               log_level="warning"))
        serving = asyncio.get_running_loop().create_task(server.serve())
        client = await Client.connect(url)
        try:
            while not server.started:
                assert not serving.done(), "the server stopped while starting"
                await asyncio.sleep(0.01)
            async with Worker(client, task_queue="pg-ui", workflows=[Greeter],
                              activities=[greet]):
                handle = await client.start_workflow(Greeter.run, "hi ", id="pg-ui-1",
                                                     task_queue="pg-ui")
                await handle.signal(Greeter.add, "pg")
                await handle.signal(Greeter.finish)
                assert await handle.result() == ["hello hi pg"]

            def get(path: str) -> str:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as response:
                    return str(response.read().decode())

            listed = json.loads(await asyncio.to_thread(get, "/api/workflows"))
            assert [w["workflow_id"] for w in listed["workflows"]] == ["pg-ui-1"]
            # Temporal's events and Temporal's count, as fetch_history() gives them.
            events = (await handle.fetch_history()).events
            history = json.loads(await asyncio.to_thread(
                get, "/api/workflows/pg-ui-1/history?limit=1000"))
            assert [e["event_type"] for e in history["events"]] == \
                [str(e.event_type) for e in events]
            assert listed["workflows"][0]["history_length"] == history["history_length"] == \
                len(events)
            count = json.loads(await asyncio.to_thread(get, "/api/workflow-count"))
            assert count == {"count": 1}
            page = await asyncio.to_thread(get, "/workflows/pg-ui-1")
            assert "ActivityTaskCompleted" in page or "Activity" in page
            metrics = await asyncio.to_thread(get, "/metrics")
            assert 'workflow_type="Greeter"' in metrics
        finally:
            await client.close()
            server.should_exit = True
            await serving
