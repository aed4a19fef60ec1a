"""DefaultFailureConverterWithEncodedAttributes given through a plugin's data converter:
failures keep their message and stack trace in encoded_attributes (the history shows
"Encoded failure"), and the client, the workflow and the activity's caller still see the
real messages."""

import dataclasses
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.plugin import SimplePlugin

PLUGINS = [SimplePlugin("encoded-failures", data_converter=dataclasses.replace(
    DataConverter.default, failure_converter_class=DefaultFailureConverterWithEncodedAttributes))]


@activity.defn
async def leak(secret: str) -> str:
    raise ApplicationError(f"the secret is {secret}", {"code": 7}, type="Leak",
                           non_retryable=True)


@workflow.defn
class Guarded:
    @workflow.run
    async def run(self, secret: str) -> str:
        try:
            await workflow.execute_activity(leak, secret,
                                            start_to_close_timeout=timedelta(seconds=10))
        except ActivityError as error:
            cause = error.cause
            assert isinstance(cause, ApplicationError)
            raise ApplicationError(f"caught: {cause.message} ({cause.type}, {cause.details})",
                                   non_retryable=True) from error
        return "unreachable"


WORKFLOWS = [Guarded]
ACTIVITIES = [leak]


def _failure(failure: Any) -> dict[str, Any]:
    return {"message": failure.message, "stack_trace": failure.stack_trace,
            "encoded": failure.HasField("encoded_attributes"),
            "has_cause": failure.HasField("cause")}


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Guarded.run, "42", id=f"{task_queue}-guarded",
                                         task_queue=task_queue)
    observed: dict[str, Any] = {}
    try:
        await handle.result()
    except WorkflowFailureError as error:
        cause = error.cause
        observed["client"] = [type(cause).__name__, str(cause),
                              type(cause.__cause__).__name__ if cause.__cause__ else None]
    recorded = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            recorded["activity"] = _failure(event.activity_task_failed_event_attributes.failure)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            recorded["workflow"] = _failure(
                event.workflow_execution_failed_event_attributes.failure)
    observed["recorded"] = recorded
    return observed
