"""A chat agent whose memory is workflow state: it survives worker restarts.

``python -m examples.durable_chat.main``: ``ChatWorkflow`` waits for ``send`` signals,
answers each with the agent loop (the whole conversation goes to the model), and exposes the
transcript through a query. Between the two user messages the script stops its worker and
starts a new one: the second answer still knows the first exchange, rebuilt from history.

Unlike the loop this pattern is often shown with, it waits for a *new* message each turn
(``len(pending) > 0``), not for a non-empty history, which would call the model forever.
Long chats continue as new, carrying the conversation.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stalwart import workflow
from stalwart.agents import AgentConfig, AgentLoop, LLMActivities, Message, Usage
from stalwart.agents.testing import Reply
from stalwart.client import Client
from stalwart.worker import Worker

from .._fake_llm import model


@dataclass
class ChatState:
    model: str
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@workflow.defn
class ChatWorkflow:
    def __init__(self) -> None:
        self._pending: list[str] = []
        self._closed = False
        self._loop: AgentLoop | None = None

    @workflow.signal
    def send(self, text: str) -> None:
        self._pending.append(text)

    @workflow.signal
    def close(self) -> None:
        self._closed = True

    @workflow.query
    def transcript(self) -> list[Message]:
        return [m for m in (self._loop.messages if self._loop else [])
                if m["role"] in ("user", "assistant")]

    @workflow.run
    async def run(self, state: ChatState) -> Usage:
        self._loop = AgentLoop(AgentConfig(model=state.model, max_steps=10_000,
                                           instructions="You are a helpful support agent."),
                               messages=state.messages, usage=state.usage)
        while True:
            await workflow.wait_condition(lambda: bool(self._pending) or self._closed)
            if not self._pending:
                return self._loop.usage
            await self._loop.run(self._pending.pop(0))
            if workflow.info().is_continue_as_new_suggested() and not self._pending:
                workflow.continue_as_new(ChatState(state.model, self._loop.messages,
                                                   self._loop.usage))


def offline_model(body: dict[str, Any]) -> Reply:
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    if len(users) == 1:
        return Reply(text=f"Sorry to hear that. I noted: '{users[0]}'.")
    return Reply(text=f"Earlier you told me: '{users[0]}'. Now: '{users[-1]}'. On it.")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, model(offline_model) as llm:
        client = await Client.connect(f"sqlite:///{Path(tmp) / 'stalwart.db'}")
        activities = LLMActivities(openai_client=llm.client).activities()
        handle = await client.start_workflow(ChatWorkflow.run, ChatState(llm.name),
                                             id="chat-demo", task_queue="chat")
        for turn, text in enumerate(["My order #12 is late.", "Can you expedite it?"], 1):
            async with Worker(client, task_queue="chat", workflows=[ChatWorkflow],
                              activities=activities):
                await handle.signal(ChatWorkflow.send, text)
                while True:
                    transcript = await handle.query(ChatWorkflow.transcript)
                    if len(transcript) == 2 * turn:
                        break
                    await asyncio.sleep(0.05)
                print(f"user: {text}\nagent: {transcript[-1]['content']}")
            print("(worker stopped; a new one takes over)" if turn == 1 else "")
        async with Worker(client, task_queue="chat", workflows=[ChatWorkflow],
                          activities=activities):
            await handle.signal(ChatWorkflow.close)
            print(f"usage: {await handle.result()}")
        await client.close()
        await llm.client.close()


if __name__ == "__main__":
    asyncio.run(main())
