"""A worker process serving the benchmark's ``Conversation``: ``python conversation_worker.py
URL QUEUE MARKS``. Each model call appends ``call <turn> pid <pid>`` to MARKS (fsync'd) and
takes a little while, so a test can SIGKILL the process in the middle of a conversation.
Runs until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bench.workloads.conversation import Conversation, answer

from stalwart import activity
from stalwart.client import Client
from stalwart.worker import Worker

_marks = ""


@activity.defn(name="conversation_model_call")
async def slow_model_call(messages: list[dict[str, str]]) -> dict[str, str]:
    turn = len(messages) // 2
    fd = os.open(_marks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"call {turn} pid {os.getpid()}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    await asyncio.sleep(0.05)
    return answer(turn, len(messages[-1]["content"]))


async def serve(url: str, queue: str) -> None:
    client = await Client.connect(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with Worker(client, task_queue=queue, workflows=[Conversation],
                          activities=[slow_model_call]):
            await stop.wait()
    finally:
        await client.close()


if __name__ == "__main__":
    _marks = sys.argv[3]
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
