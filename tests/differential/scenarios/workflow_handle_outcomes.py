"""WorkflowHandle on closed workflows: result() errors and their causes for failed,
cancelled, terminated and timed-out runs; signal, cancel and terminate of a closed run;
describe() fields; queries on closed runs; unknown workflow ids."""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client, RPCError, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from ._util import settle


@workflow.defn
class Ends:
    @workflow.run
    async def run(self, how: str) -> str:
        if how == "fail":
            raise ApplicationError("it broke", {"code": 7}, type="Broken", non_retryable=True)
        if how == "return":
            return "fine"
        await asyncio.Event().wait()
        return "unreachable"

    @workflow.query
    def how(self) -> str:
        return "answered"


WORKFLOWS = [Ends]
ACTIVITIES: list[object] = []


def _error(error: BaseException) -> object:
    cause = error.__cause__
    out = [type(error).__name__, str(error), type(cause).__name__ if cause else None,
           str(cause) if cause else None]
    for attribute in ("type", "non_retryable", "details", "retry_state"):
        if hasattr(cause, attribute):
            value = getattr(cause, attribute)
            out.append([attribute, list(value) if isinstance(value, tuple) else
                        getattr(value, "name", value)])
    return out


async def _outcome(handle: object) -> object:
    try:
        return ["result", await handle.result()]  # type: ignore[attr-defined]
    except WorkflowFailureError as error:
        return _error(error)


async def _rpc(call: object) -> object:
    try:
        await call  # type: ignore[misc]
        return "ok"
    except RPCError as error:
        return ["RPCError", error.status.name]


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, object] = {}
    ok = await client.start_workflow(Ends.run, "return", id=f"{task_queue}-ok",
                                     task_queue=task_queue)
    observed["return"] = await _outcome(ok)
    failed = await client.start_workflow(Ends.run, "fail", id=f"{task_queue}-fail",
                                         task_queue=task_queue)
    observed["fail"] = await _outcome(failed)
    cancelled = await client.start_workflow(Ends.run, "wait", id=f"{task_queue}-cancel",
                                            task_queue=task_queue)
    await cancelled.query(Ends.how)
    await cancelled.cancel()
    observed["cancel"] = await _outcome(cancelled)
    terminated = await client.start_workflow(Ends.run, "wait", id=f"{task_queue}-term",
                                             task_queue=task_queue)
    await settle(terminated)  # see _util.settle
    await terminated.terminate("enough", reason="test over")
    observed["terminate"] = await _outcome(terminated)
    timed_out = await client.start_workflow(Ends.run, "wait", id=f"{task_queue}-timeout",
                                            task_queue=task_queue,
                                            execution_timeout=timedelta(seconds=1))
    observed["timeout"] = await _outcome(timed_out)

    observed["statuses"] = [(await h.describe()).status.name for h in
                            (ok, failed, cancelled, terminated, timed_out)]
    described = await ok.describe()
    observed["describe"] = [described.id == ok.id, described.workflow_type,
                            described.task_queue == task_queue,
                            described.close_time is not None,
                            described.parent_id, described.run_id == ok.result_run_id]
    observed["signal_closed"] = await _rpc(ok.signal("anything"))
    observed["cancel_closed"] = await _rpc(ok.cancel())
    observed["terminate_closed"] = await _rpc(ok.terminate())
    observed["query_closed"] = await ok.query(Ends.how)
    missing = client.get_workflow_handle(f"{task_queue}-missing")
    observed["describe_missing"] = await _rpc(missing.describe())
    observed["signal_missing"] = await _rpc(missing.signal("anything"))
    observed["result_for"] = await client.get_workflow_handle_for(
        Ends.run, f"{task_queue}-ok").result()
    return observed
