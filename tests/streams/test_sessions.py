"""Chat sessions on both stores: messages sent with update-with-start whether or not the
session runs, continue-as-new on its own carrying the conversation, and one stream across
its runs that readers follow by the session id."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from stalwart.agents import (
    AgentConfig,
    ChatSession,
    LLMActivities,
    send_message,
)
from stalwart.agents.testing import FakeLLMServer, Reply
from stalwart.client import Client, WorkflowUpdateFailedError
from stalwart.worker import Worker

openai = pytest.importorskip("openai")


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
async def openai_client(llm_server: FakeLLMServer) -> AsyncIterator[Any]:
    client = openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="test-key")
    try:
        yield client
    finally:
        await client.close()


async def test_session_spans_runs_and_its_stream_follows(
        client: Client, task_queue: str, llm_server: FakeLLMServer, openai_client: Any) -> None:
    turns = 5
    llm_server.script(*[Reply(text=f"answer {n} " + "x" * 3000, chunk_delay=0.001)
                        for n in range(1, turns + 1)])
    session_id = f"chat-{uuid.uuid4().hex[:8]}"
    config = AgentConfig(model="gpt-4o", stream=True)
    llm = LLMActivities(openai_client=openai_client)
    async with Worker(client, task_queue=task_queue, workflows=[ChatSession],
                      activities=llm.activities()):
        sent = []
        for n in range(1, turns + 1):
            # Small history limit: the session continues as new after about every turn.
            sent.append(await send_message(client, session_id, f"question {n}", config=config,
                                           task_queue=task_queue, max_history_bytes=8_000))
            stream = client.workflow_stream(session_id)
            async for item in stream.subscribe(["chat"]):
                if item.data["role"] == "assistant" and item.data["turn"] == n:
                    break
        handle = client.get_workflow_handle_for(ChatSession.run, session_id)
        await handle.signal(ChatSession.end)
        result = await handle.result()
    assert [t.turn for t in sent] == list(range(1, turns + 1))
    assert len({t.run_id for t in sent}) > 1  # later messages reached later runs
    assert result.reason == "ended" and result.turns == turns and result.runs > 1
    # The conversation went along: the last model call saw every earlier turn.
    last = llm_server.model_requests()[-1].body["messages"]
    assert [m["content"] for m in last if m["role"] == "user"] == [
        f"question {n}" for n in range(1, turns + 1)]
    # One stream over every run, offsets in order, each turn's items once.
    items = [item async for item in client.workflow_stream(session_id).subscribe()]
    assert [i.offset for i in items] == list(range(len(items)))
    assert 1 < len({i.run_id for i in items}) <= result.runs
    chat = [(i.data["turn"], i.data["role"]) for i in items if i.topic == "chat"]
    assert chat == [(n, role) for n in range(1, turns + 1) for role in ("user", "assistant")]
    tokens = "".join(i.data.get("delta", "") for i in items if i.topic == "tokens")
    assert tokens == "".join(f"answer {n} " + "x" * 3000 for n in range(1, turns + 1))


async def test_session_rejects_bad_messages(client: Client, task_queue: str,
                                            llm_server: FakeLLMServer,
                                            openai_client: Any) -> None:
    llm_server.script(Reply(text="hi"))
    session_id = f"chat-{uuid.uuid4().hex[:8]}"
    config = AgentConfig(model="gpt-4o")
    llm = LLMActivities(openai_client=openai_client)
    async with Worker(client, task_queue=task_queue, workflows=[ChatSession],
                      activities=llm.activities()):
        first = await send_message(client, session_id, "hello", config=config,
                                   task_queue=task_queue)
        with pytest.raises(WorkflowUpdateFailedError):
            await send_message(client, session_id, "   ", config=config, task_queue=task_queue)
        with pytest.raises(ValueError, match="session_id"):
            await send_message(client, "", "hi", config=config, task_queue=task_queue)
        handle = client.get_workflow_handle_for(ChatSession.run, session_id)
        await handle.signal(ChatSession.end)
        result = await handle.result()
    assert first.turn == 1 and result.turns == 1 and result.reason == "ended"
