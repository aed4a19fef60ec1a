"""A worker process for the research agent: ``python -m examples.research_agent.worker URL``.

Runs until SIGTERM or Ctrl-C. With ``--trace FILE`` its activities log what they do to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from stalwart.client import Client
from stalwart.worker import Worker

from . import trace
from .agent import ACTIVITIES, ResearchAgent

TASK_QUEUE = "research-agent"


async def serve(url: str) -> None:
    client = await Client.connect(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Worker(client, task_queue=TASK_QUEUE, workflows=[ResearchAgent],
                          activities=ACTIVITIES):
            await stop.wait()
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", help="store URL, e.g. sqlite:///research.db")
    parser.add_argument("--trace", help="file the activities append their trace to")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if options.trace:
        trace.configure(options.trace)
    asyncio.run(serve(options.url))


if __name__ == "__main__":
    main()
