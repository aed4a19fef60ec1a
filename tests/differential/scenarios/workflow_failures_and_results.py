"""How workflow outcomes reach the client: failure_exception_types turning a plain exception
into a workflow failure, ApplicationError details and category, dataclass results decoded by
the run method's hint or by result_type, and an arg/return converted by type hints."""

from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory


@dataclass
class Order:
    id: str
    total: float
    placed: datetime


@workflow.defn(failure_exception_types=[KeyError])
class Outcomes:
    @workflow.run
    async def run(self, how: str, order: Order) -> Order:
        if how == "keyerror":
            raise KeyError("missing-key")
        if how == "benign":
            raise ApplicationError("expected", {"retry": False}, type="Benign",
                                   category=ApplicationErrorCategory.BENIGN)
        return Order(order.id + "-done", order.total * 2, order.placed)


WORKFLOWS = [Outcomes]
ACTIVITIES: list[object] = []


async def _outcome(client: Client, task_queue: str, how: str) -> object:
    order = Order("o1", 10.5, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    try:
        result = await client.execute_workflow(Outcomes.run, args=[how, order],
                                               id=f"{task_queue}-{how}", task_queue=task_queue)
        return [type(result).__name__, result.id, result.total, result.placed.isoformat()]
    except WorkflowFailureError as error:
        cause = error.cause
        return [type(cause).__name__, getattr(cause, "message", str(cause)),
                getattr(cause, "type", None), list(getattr(cause, "details", []) or []),
                getattr(getattr(cause, "category", None), "name", None),
                getattr(cause, "non_retryable", None)]


async def run(client: Client, task_queue: str) -> object:
    observed = {how: await _outcome(client, task_queue, how)
                for how in ("ok", "keyerror", "benign")}
    untyped = client.get_workflow_handle(f"{task_queue}-ok")
    observed["untyped"] = await untyped.result()
    typed = client.get_workflow_handle(f"{task_queue}-ok", result_type=Order)
    observed["typed"] = type(await typed.result()).__name__
    return observed
