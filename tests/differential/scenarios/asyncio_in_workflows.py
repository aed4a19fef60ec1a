"""asyncio inside workflow code, as agent loops use it: a TaskGroup of activities through a
Semaphore, asyncio.wait(FIRST_COMPLETED) racing an activity against a timer and cancelling
the loser, asyncio.wait_for timing out a slow activity, as_completed taking the first of an
activity and a timer, shield, and a Queue fed by a signal handler, drained under a Lock.

Only one activity runs at a time and cancellations are waited for
(WAIT_CANCELLATION_COMPLETED), so the order of events depends on the code alone."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client

from ._util import settle, wait_for_events


@activity.defn
async def step(name: str) -> str:
    return f"did {name}"


@activity.defn
async def slow_step(name: str) -> str:
    # Cancelled by the workflow before it finishes; heartbeats so the cancel reaches it.
    while True:
        activity.heartbeat()
        await asyncio.sleep(0.05)


def _step(name: str) -> "asyncio.Task[str]":
    return asyncio.ensure_future(workflow.execute_activity(
        step, name, start_to_close_timeout=timedelta(seconds=30)))


def _slow(name: str) -> "asyncio.Future[str]":
    return workflow.execute_activity(
        slow_step, name, start_to_close_timeout=timedelta(seconds=60),
        heartbeat_timeout=timedelta(seconds=5),
        cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)


@workflow.defn
class Orchestrator:
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.lock = asyncio.Lock()
        self.log: list[str] = []

    @workflow.run
    async def run(self) -> dict[str, object]:
        out: dict[str, object] = {}
        limit = asyncio.Semaphore(1)

        async def capped(name: str) -> str:
            async with limit:
                return await _step(name)

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(capped(f"t{i}")) for i in range(3)]
        out["group"] = [t.result() for t in tasks]

        racer = asyncio.ensure_future(_slow("racer"))
        timer = asyncio.ensure_future(asyncio.sleep(1))
        done, pending = await asyncio.wait({racer, timer},
                                           return_when=asyncio.FIRST_COMPLETED)
        out["race"] = ["timer" if timer in done else "racer", len(pending)]
        racer.cancel()
        try:
            await racer
        except asyncio.CancelledError:
            out["racer"] = "cancelled"
        except Exception as error:  # the activity's cancellation, as an ActivityError
            out["racer"] = type(error).__name__

        try:
            await asyncio.wait_for(_slow("bounded"), timeout=1)
        except TimeoutError:
            out["wait_for"] = "timed out"

        async def late() -> str:
            await asyncio.sleep(30)
            return "timer"

        quick, slow_timer = _step("quick"), asyncio.ensure_future(late())
        for first_done in asyncio.as_completed([slow_timer, quick]):
            out["as_completed"] = await first_done
            break
        slow_timer.cancel()

        out["shielded"] = await asyncio.shield(_step("shielded"))

        await workflow.wait_condition(lambda: self.inbox.qsize() >= 2)
        while not self.inbox.empty():
            item = self.inbox.get_nowait()
            async with self.lock:
                self.log.append(await _step(item))
        out["inbox"] = self.log
        return out

    @workflow.signal
    async def put(self, item: str) -> None:
        await self.inbox.put(item)


WORKFLOWS = [Orchestrator]
ACTIVITIES = [step, slow_step]


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Orchestrator.run, id=f"{task_queue}-orchestrator",
                                         task_queue=task_queue)
    # Signal once the run waits on its inbox (its last activity before it, "shielded", done).
    await wait_for_events(handle, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED", 5)
    await settle(handle)
    await handle.signal(Orchestrator.put, "first")
    await settle(handle)
    await handle.signal(Orchestrator.put, "second")
    return await handle.result()
