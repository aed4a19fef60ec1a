"""A workflow cancels one of its own activities (waiting for the cancellation to complete)
when a signal arrives, and reports what its await raised."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client

from ._util import wait_for_query

# Set by the activity once it runs (the worker runs in run()'s process and event loop), so
# run() cancels an activity that has started, on both servers.
activity_running = asyncio.Event()


@activity.defn
async def crawl() -> str:
    activity_running.set()
    while True:
        activity.heartbeat()
        await asyncio.sleep(0.05)


@workflow.defn
class Crawler:
    def __init__(self) -> None:
        self.stop = False
        self.state = "starting"

    @workflow.signal
    def halt(self) -> None:
        self.stop = True

    @workflow.query
    def where(self) -> str:
        return self.state

    @workflow.run
    async def run(self) -> str:
        task = asyncio.ensure_future(workflow.execute_activity(
            crawl, start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=2),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED))
        self.state = "crawling"
        await workflow.wait_condition(lambda: self.stop)
        task.cancel()
        try:
            await task
            return "finished"
        except BaseException as error:  # what the await raises is what this compares
            cause = getattr(error, "cause", None)
            return f"{type(error).__name__}({type(cause).__name__ if cause else ''})"


WORKFLOWS = [Crawler]
ACTIVITIES = [crawl]


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Crawler.run, id=f"{task_queue}-crawler",
                                         task_queue=task_queue)
    await wait_for_query(handle, "where", "crawling")
    await asyncio.wait_for(activity_running.wait(), 30)
    await handle.signal(Crawler.halt)
    return await handle.result()
