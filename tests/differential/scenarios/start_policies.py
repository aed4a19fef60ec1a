"""Starting workflows: id conflict policies (FAIL, USE_EXISTING, TERMINATE_EXISTING), id reuse
policies after a run closed, signal-with-start, and WorkflowAlreadyStartedError's fields."""

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from ._util import settle


@workflow.defn
class Holder:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.done = False

    @workflow.run
    async def run(self, finish_at_once: bool) -> list[str]:
        if not finish_at_once:
            await workflow.wait_condition(lambda: self.done)
        return self.received

    @workflow.signal
    def give(self, value: str) -> None:
        self.received.append(value)
        if value == "stop":
            self.done = True


WORKFLOWS = [Holder]
ACTIVITIES: list[object] = []


async def _start(client: Client, task_queue: str, suffix: str, **options: object) -> object:
    try:
        handle = await client.start_workflow(Holder.run, options.pop("arg", False),
                                             id=f"{task_queue}-{suffix}",
                                             task_queue=task_queue, **options)
        return handle
    except WorkflowAlreadyStartedError as error:
        return ["WorkflowAlreadyStartedError", error.workflow_id == f"{task_queue}-{suffix}",
                error.workflow_type, error.run_id is not None]


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, object] = {}
    first = await _start(client, task_queue, "a")
    # Each input once the previous one is handled: see _util.settle.
    await settle(first)
    observed["default_conflict"] = await _start(client, task_queue, "a")
    existing = await _start(client, task_queue, "a",
                            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    observed["use_existing_same_run"] = existing.result_run_id == first.result_run_id
    replacing = await _start(client, task_queue, "a",
                             id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING)
    observed["terminate_existing_new_run"] = replacing.result_run_id != first.result_run_id
    await settle(replacing)
    try:
        await first.result()
    except WorkflowFailureError as error:
        observed["first_outcome"] = type(error.cause).__name__
    await replacing.signal(Holder.give, "stop")
    observed["replacing_result"] = await replacing.result()

    await (await _start(client, task_queue, "b", arg=True)).result()
    observed["reject_duplicate"] = await _start(
        client, task_queue, "b", id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    observed["failed_only"] = await _start(
        client, task_queue, "b",
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY)
    again = await _start(client, task_queue, "b", arg=True)
    observed["allow_duplicate"] = await again.result()

    with_signal = await client.start_workflow(
        Holder.run, False, id=f"{task_queue}-c", task_queue=task_queue,
        start_signal="give", start_signal_args=["hello"])
    await settle(with_signal)
    same = await client.start_workflow(
        Holder.run, False, id=f"{task_queue}-c", task_queue=task_queue,
        start_signal="give", start_signal_args=["stop"])
    observed["signal_with_start_same_run"] = same.result_run_id == with_signal.result_run_id
    observed["signal_with_start_result"] = await with_signal.result()
    return observed
