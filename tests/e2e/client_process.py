"""A client process for the cross-process test.

Run from the repository root: ``python -m tests.e2e.client_process DB QUEUE WORKFLOW_ID``.

It starts ``TwentySteps`` on the store, waits for the result (some other process runs the
worker) and prints ``{"result": ..., "pid": ...}`` as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from stalwart.client import Client
from tests.e2e.worker_process import STEPS, TwentySteps


async def run(db_path: str, task_queue: str, workflow_id: str) -> None:
    client = await Client.connect(f"sqlite:///{db_path}")
    try:
        result = await client.execute_workflow(TwentySteps.run, STEPS, id=workflow_id,
                                               task_queue=task_queue)
    finally:
        await client.close()
    sys.stdout.write(json.dumps({"result": result, "pid": os.getpid()}) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: python -m tests.e2e.client_process DB_PATH TASK_QUEUE WORKFLOW_ID")
    asyncio.run(run(*sys.argv[1:]))
