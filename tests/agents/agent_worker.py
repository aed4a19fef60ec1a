"""A worker process for the agent crash test: AgentWorkflow, the LLM activity, one tool.

Usage: agent_worker.py <db path> <task queue> <openai base url> <notes file>
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import openai

from stalwart import activity
from stalwart.agents import AgentWorkflow, LLMActivities
from stalwart.client import Client
from stalwart.worker import Worker

NOTES = Path(sys.argv[4]) if len(sys.argv) > 4 else Path("notes.txt")


@activity.defn
def take_note(text: str) -> str:
    """Write a note down."""
    with NOTES.open("a") as notes:
        notes.write(f"{text} pid {os.getpid()}\n")
        notes.flush()
        os.fsync(notes.fileno())
    return f"noted: {text}"


async def main() -> None:
    db, task_queue, base_url = sys.argv[1], sys.argv[2], sys.argv[3]
    client = await Client.connect(f"sqlite:///{db}")
    http = openai.AsyncOpenAI(base_url=base_url, api_key="k")
    llm = LLMActivities(openai_client=http)
    worker = Worker(client, task_queue=task_queue, workflows=[AgentWorkflow],
                    activities=[*llm.activities(), take_note])
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
