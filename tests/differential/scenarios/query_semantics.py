"""Queries: arguments convert as leniently as Temporal's converter (a bool for an int), a
missing or an extra argument fails the query, an unknown query fails, and
QueryRejectCondition rejects queries on closed workflows by their status."""

from temporalio import workflow
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.common import QueryRejectCondition
from temporalio.exceptions import ApplicationError

from ._util import settle


@workflow.defn
class Answers:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, fail: bool) -> str:
        await workflow.wait_condition(lambda: self.done)
        if fail:
            raise ApplicationError("failed on purpose")
        return "done"

    @workflow.query
    def plus(self, a: int, b: int) -> int:
        return a + b

    @workflow.query
    def scaled(self, value: float) -> float:
        return value * 2

    @workflow.signal
    def finish(self) -> None:
        self.done = True


WORKFLOWS = [Answers]
ACTIVITIES: list[object] = []


async def _ask(handle: object, *args: object, **kwargs: object) -> object:
    try:
        return ["ok", await handle.query(*args, **kwargs)]  # type: ignore[attr-defined]
    except WorkflowQueryRejectedError as error:
        return ["rejected", error.status.name if error.status else None]
    except WorkflowQueryFailedError:
        return ["failed"]


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Answers.run, False, id=f"{task_queue}-ok",
                                         task_queue=task_queue)
    await settle(handle)  # see _util.settle
    observed: dict[str, object] = {
        "ints": await _ask(handle, Answers.plus, args=[2, 3]),
        "bool_for_int": await _ask(handle, Answers.plus, args=[True, 3]),
        "int_for_float": await _ask(handle, Answers.scaled, 3),
        "float_for_int": await _ask(handle, Answers.plus, args=[2.0, 3]),
        "str_for_int": await _ask(handle, Answers.plus, args=["2", 3]),
        "missing": await _ask(handle, Answers.plus, 2),
        "extra": await _ask(handle, Answers.plus, args=[1, 2, 3]),
        "unknown": await _ask(handle, "nope"),
        "open_not_open": await _ask(handle, Answers.plus, args=[1, 1],
                                    reject_condition=QueryRejectCondition.NOT_OPEN),
    }
    await handle.signal(Answers.finish)
    await handle.result()
    observed["completed_not_open"] = await _ask(
        handle, Answers.plus, args=[1, 1], reject_condition=QueryRejectCondition.NOT_OPEN)
    observed["completed_not_cleanly"] = await _ask(
        handle, Answers.plus, args=[1, 1],
        reject_condition=QueryRejectCondition.NOT_COMPLETED_CLEANLY)
    observed["completed_none"] = await _ask(handle, Answers.plus, args=[1, 1],
                                            reject_condition=QueryRejectCondition.NONE)
    failing = await client.start_workflow(Answers.run, True, id=f"{task_queue}-fail",
                                          task_queue=task_queue)
    await settle(failing)
    await failing.signal(Answers.finish)
    try:
        await failing.result()
    except WorkflowFailureError:
        pass
    observed["failed_not_cleanly"] = await _ask(
        failing, Answers.plus, args=[1, 1],
        reject_condition=QueryRejectCondition.NOT_COMPLETED_CLEANLY)
    observed["failed_default"] = await _ask(failing, Answers.plus, args=[1, 1])
    return observed
