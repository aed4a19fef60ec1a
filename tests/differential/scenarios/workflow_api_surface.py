"""workflow.as_completed (completion order), new_random/random_seed/uuid7/instance,
current details, dynamic handler lookup, start_activity_class, is_failure_exception,
HandlerUnfinishedPolicy, and that an update handler left running when the workflow returns
does not change the workflow's result."""

from collections.abc import Sequence
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError


@activity.defn
class Doubler:
    async def __call__(self, value: int) -> int:
        return value * 2


@workflow.defn
class Surface:
    def __init__(self) -> None:
        self.release = False

    @workflow.run
    async def run(self) -> dict:
        async def after(ticks: int, label: str) -> str:
            for _ in range(ticks):
                await workflow.sleep(0.05)
            return label

        order = [await f for f in workflow.as_completed(
            [after(3, "slow"), after(1, "fast"), after(2, "middle")])]
        workflow.set_current_details("computing")
        def ignore(name: str, args: Sequence[RawValue]) -> None:
            pass

        workflow.set_dynamic_signal_handler(ignore)
        doubled = await workflow.execute_activity_class(
            Doubler, 21, start_to_close_timeout=timedelta(seconds=10))
        rng = workflow.new_random()
        return {
            "order": order,
            "details": workflow.get_current_details(),
            "has_dynamic_signal": workflow.get_dynamic_signal_handler() is not None,
            "has_dynamic_query": workflow.get_dynamic_query_handler() is not None,
            "instance_is_self": workflow.instance() is self,
            "uuid7_version": workflow.uuid7().version,
            "seed_is_int": isinstance(workflow.random_seed(), int),
            "new_random_in_range": 0 <= rng.random() < 1,
            "doubled": doubled,
            "failure": [workflow.is_failure_exception(ApplicationError("x")),
                        workflow.is_failure_exception(ValueError("x"))],
            "policies": [p.name for p in workflow.HandlerUnfinishedPolicy],
            "not_cron": [workflow.has_last_completion_result(),
                         workflow.get_last_completion_result(),
                         workflow.get_last_failure() is None, workflow.info().cron_schedule],
        }

    @workflow.update(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def wait_forever(self) -> str:
        await workflow.wait_condition(lambda: self.release)
        return "released"


WORKFLOWS = [Surface]
ACTIVITIES = [Doubler()]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Surface.run, id=f"{task_queue}-wf",
                                         task_queue=task_queue)
