"""workflow.patched and workflow.deprecate_patch: markers (and Temporal's change-version
search attribute) as a new run records them."""

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client


@activity.defn
async def pack(style: str) -> str:
    return f"packed {style}"


@workflow.defn
class Packing:
    @workflow.run
    async def run(self) -> list[str]:
        out = []
        if workflow.patched("careful-packing"):
            out.append(await workflow.execute_activity(
                pack, "carefully", start_to_close_timeout=timedelta(seconds=10)))
        else:
            out.append(await workflow.execute_activity(
                pack, "quickly", start_to_close_timeout=timedelta(seconds=10)))
        workflow.deprecate_patch("old-label")
        if workflow.patched("gift-wrap"):
            out.append("gift wrapped")
        return out


WORKFLOWS = [Packing]
ACTIVITIES = [pack]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Packing.run, id=f"{task_queue}-packing",
                                         task_queue=task_queue)
