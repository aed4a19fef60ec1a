"""Messages from the client to workflows and activities: queries, updates, async completion."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._client_interceptors import (
    CompleteAsyncActivityInput,
    FailAsyncActivityInput,
    HeartbeatAsyncActivityInput,
    ReportCancellationAsyncActivityInput,
)
from ._engine.activity_worker import activity_error_failure
from ._engine.codec import decode_value, encode_value
from ._model.events import RPC_STATUS_KEY
from ._store.base import UpdateState
from .converter import DataConverter, SerializationContext, _payload_from_json, _payload_to_json
from .exceptions import (
    AsyncActivityCancelledError,
    CancelledError,
    RetryState,
    RPCError,
    RPCStatusCode,
    WorkflowQueryFailedError,
    WorkflowQueryTimedOutError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)

if TYPE_CHECKING:
    from .client import Client, WorkflowHandle

ReturnType = TypeVar("ReturnType")


class WorkflowUpdateStage(IntEnum):
    ADMITTED = 1
    ACCEPTED = 2
    COMPLETED = 3


def handler_name(handler: Any, attribute: str, kind: str) -> str:
    if isinstance(handler, str) and handler:
        return handler
    definition = getattr(handler, attribute, None)
    name = getattr(definition, "name", None)
    if not name:
        raise TypeError(f"{handler!r} is not a {kind}: pass a @workflow.{kind} method or the "
                        f"{kind} name")
    return str(name)


def handler_result_type(handler: Any, attribute: str) -> Any:
    return getattr(getattr(handler, attribute, None), "return_type_hint", None)


async def query(handle: WorkflowHandle[Any, Any], query: Any, args: Sequence[Any],
                 result_type: Any, timeout: float) -> Any:
    client = handle._client
    name = handler_name(query, "__stalwart_query_definition__", "query")
    payloads = await client._encode(args, f"query {name!r} arguments", handle.id)
    store = client.store
    query_id = await store.query_workflow(handle.id, handle.run_id, name, payloads,
                                          client._clock.now())
    sub = store.subscribe(("query_answered", str(query_id)))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            row = await store.get_query(query_id)
            if row is not None and row["state"] == 2:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                await store.delete_query(query_id)
                raise WorkflowQueryTimedOutError(
                    f"no worker answered query {name!r} of workflow {handle.id!r} within "
                    f"{timeout:g} s: is a worker running that polls the workflow's task queue "
                    "and has its workflow type registered?")
            await sub.wait(min(remaining, 0.5))
    finally:
        sub.close()
    await store.delete_query(query_id)
    converter = client._converter_for(handle.id)
    if row["failure"] is not None:
        failure = await decode_value(row["failure"], converter._store_codec)
        cause = converter.failure_converter.from_failure(failure, converter.payload_converter)
        # As in temporalio, the error's message is the handler's failure message; the
        # rebuilt failure is its cause.
        raise WorkflowQueryFailedError(str(failure.get("message", ""))) from cause
    payload = await decode_value(row["result"], converter._store_codec)
    hint = result_type or handler_result_type(query, "__stalwart_query_definition__")
    return converter.payload_converter.from_payload(_payload_from_json(payload), hint)


def _raise_rpc_error(failure: dict[str, Any]) -> None:
    """An update refused over its arguments reaches the caller as Temporal's RPC error."""
    status = failure.get(RPC_STATUS_KEY)
    if status is not None:
        raise RPCError(str(failure.get("message", "")), RPCStatusCode(status))


class WorkflowUpdateHandle(Generic[ReturnType]):
    """An update that was sent; ``await handle.result()`` waits for its outcome."""

    workflow_id: str
    workflow_run_id: str | None  # None: the workflow's latest run

    def __init__(self, client: Client, workflow_id: str, run_id: str | None, update_id: str,
                 name: str, result_type: Any) -> None:
        self._client = client
        self.workflow_id = workflow_id
        self.workflow_run_id = run_id
        self._id = update_id
        self._name = name
        self._result_type = result_type

    @property
    def id(self) -> str:
        return self._id

    async def _wait(self, stage: WorkflowUpdateStage, timeout: float | None
                    ) -> dict[str, Any] | None:
        store = self._client.store
        run_id = self.workflow_run_id
        if run_id is None:  # a handle from get_update_handle: the workflow's latest run
            execution = await store.get_execution(self.workflow_id, None)
            if execution is None:
                raise RPCError(f"workflow not found for ID: {self.workflow_id}",
                               RPCStatusCode.NOT_FOUND)
            run_id = execution.run_id
        sub = store.subscribe(("update", self._id))
        try:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            first = True
            while True:
                row = await store.get_update(run_id, self._id)
                if row is None and first:
                    # An update the run never received (a handle from get_update_handle
                    # with an id nobody sent): Temporal answers NOT_FOUND, not a wait.
                    raise RPCError(f'update "{self._id}" not found', RPCStatusCode.NOT_FOUND)
                first = False
                if row is not None and row["state"] == UpdateState.MOVED_ON:
                    # Admitted while the run's last task ran: it went on to the next run.
                    execution = await store.get_execution(self.workflow_id, run_id)
                    if execution is None or execution.next_run_id is None:
                        raise RPCError(f'update "{self._id}" not found',
                                       RPCStatusCode.NOT_FOUND)
                    run_id = execution.next_run_id
                    continue
                if row is not None and (row["state"] in (2, 3) or (
                        stage == WorkflowUpdateStage.ACCEPTED and row["state"] == 1)):
                    return row
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return None
                await sub.wait(remaining if remaining is not None else 1.0)
        finally:
            sub.close()

    async def result(self, *, rpc_timeout: timedelta | None = None) -> ReturnType:
        """Wait for the update's outcome.

        Raises:
            WorkflowUpdateFailedError: rejected by the validator, or the handler failed.
        """
        row = await self._wait(WorkflowUpdateStage.COMPLETED,
                               rpc_timeout.total_seconds() if rpc_timeout else None)
        if row is None:
            raise WorkflowUpdateRPCTimeoutOrCancelledError()
        converter = self._client._converter_for(self.workflow_id)
        if row["failure"] is not None:
            failure = await decode_value(row["failure"], converter._store_codec)
            _raise_rpc_error(failure)
            raise WorkflowUpdateFailedError(converter.failure_converter.from_failure(
                failure, converter.payload_converter))
        payload = await decode_value(row["result"], converter._store_codec)
        value: ReturnType = converter.payload_converter.from_payload(
            _payload_from_json(payload), self._result_type)
        return value


class WorkflowUpdateHandles:
    """``WorkflowHandle.get_update_handle`` and ``get_update_handle_for``: a handle to an
    update sent earlier, by its id (no call is made until ``result()``)."""

    _client: Client
    _id: str
    _run_id: str | None

    def get_update_handle(self, id: str, *, workflow_run_id: str | None = None,
                          result_type: type | None = None) -> WorkflowUpdateHandle[Any]:
        _check_update_id(id)
        return WorkflowUpdateHandle(self._client, self._id, workflow_run_id or self._run_id,
                                    id, "", result_type)

    def get_update_handle_for(self, update: Any, id: str, *,
                              workflow_run_id: str | None = None) -> WorkflowUpdateHandle[Any]:
        """As ``get_update_handle``, the result type taken from the update's definition."""
        handler_name(update, "__stalwart_update_definition__", "update")
        return self.get_update_handle(
            id, workflow_run_id=workflow_run_id,
            result_type=handler_result_type(update, "__stalwart_update_definition__"))


def _check_update_id(id: object) -> None:
    if not isinstance(id, str) or not id:
        raise ValueError(f"get_update_handle: the update id must be a non-empty string, got "
                         f"{id!r}; pass the id the update was started with")


async def start_update(handle: WorkflowHandle[Any, Any], update: Any, args: Sequence[Any], *,
                        id: str | None, result_type: Any,
                        wait_for_stage: WorkflowUpdateStage) -> WorkflowUpdateHandle[Any]:
    client = handle._client
    name = handler_name(update, "__stalwart_update_definition__", "update")
    payloads = await client._encode(args, f"update {name!r} arguments", handle.id)
    update_id = id or str(uuid.uuid4())
    run_id = await client.store.update_workflow(handle.id, handle.run_id, update_id, name,
                                                payloads, client._clock.now())
    update_handle: WorkflowUpdateHandle[Any] = WorkflowUpdateHandle(
        client, handle.id, run_id, update_id, name,
        result_type or handler_result_type(update, "__stalwart_update_definition__"))
    if wait_for_stage in (WorkflowUpdateStage.ACCEPTED, WorkflowUpdateStage.COMPLETED):
        # A rejection is an outcome, as in temporalio: the handle is returned and its
        # result() raises WorkflowUpdateFailedError. Arguments that do not fit the handler
        # fail the call itself, with an RPC error, as Temporal's server does.
        row = await update_handle._wait(wait_for_stage, None)
        if row is not None and row["state"] == 2 and row["failure"] is not None:
            _raise_rpc_error(await decode_value(row["failure"],
                                                client._converter_for(handle.id)._store_codec))
    return update_handle


@dataclass(frozen=True)
class AsyncActivityIDReference:
    """Names an activity by workflow id, run id (None: the latest run) and activity id,
    instead of by task token; workflow id None: an activity started from a client."""

    workflow_id: str | None
    run_id: str | None
    activity_id: str


class AsyncActivityHandle:
    """Completes, fails or heartbeats an activity from outside its worker (every call goes
    through the client's interceptors)."""

    def __init__(self, client: Client, id_or_token: AsyncActivityIDReference | bytes,
                 data_converter_override: DataConverter | None = None) -> None:
        self._client = client
        self._id_or_token = id_or_token
        self._data_converter_override = data_converter_override

    def with_context(self, context: SerializationContext) -> AsyncActivityHandle:
        """A handle whose values go through the client's converter bound to ``context``."""
        converter = self._client.data_converter.with_context(context)
        if converter is self._client.data_converter:
            return self
        if type(self).__init__ is not AsyncActivityHandle.__init__:
            raise TypeError("a subclass of AsyncActivityHandle that overrides __init__ must "
                            "override with_context to return an instance of itself")
        return type(self)(self._client, self._id_or_token, converter)

    async def heartbeat(self, *details: Any, **_: Any) -> None:
        await self._client._outbound.heartbeat_async_activity(HeartbeatAsyncActivityInput(
            id_or_token=self._id_or_token, details=list(details),
            data_converter_override=self._data_converter_override))

    async def complete(self, result: Any = None, **_: Any) -> None:
        await self._client._outbound.complete_async_activity(CompleteAsyncActivityInput(
            id_or_token=self._id_or_token, result=result,
            data_converter_override=self._data_converter_override))

    async def fail(self, error: BaseException, *, last_heartbeat_details: Sequence[Any] = (),
                   **_: Any) -> None:
        await self._client._outbound.fail_async_activity(FailAsyncActivityInput(
            id_or_token=self._id_or_token, error=error,
            last_heartbeat_details=list(last_heartbeat_details),
            data_converter_override=self._data_converter_override))

    async def report_cancellation(self, *details: Any, **_: Any) -> None:
        await self._client._outbound.report_cancellation_async_activity(
            ReportCancellationAsyncActivityInput(
                id_or_token=self._id_or_token, details=list(details),
                data_converter_override=self._data_converter_override))


async def _attempt(client: Client, id_or_token: AsyncActivityIDReference | bytes
                   ) -> tuple[str, int, int]:
    """(run id, seq, attempt) of the pending activity a token or reference names."""
    if isinstance(id_or_token, AsyncActivityIDReference) and id_or_token.workflow_id is None:
        found = await client.store.describe_standalone_activity(id_or_token.activity_id,
                                                               id_or_token.run_id)
        if found["status"] not in (1, 7):
            raise AsyncActivityCancelledError(
                f"activity {id_or_token.activity_id!r} is no longer pending: it completed, "
                "timed out, was cancelled or terminated")
        return found["run_id"], 0, int(found["attempt"])
    if isinstance(id_or_token, AsyncActivityIDReference):
        row = await client.store.get_execution(id_or_token.workflow_id, id_or_token.run_id)
        if row is not None:
            for pending in await client.store.list_pending_activities(row.run_id):
                if pending["activity_id"] == id_or_token.activity_id:
                    return row.run_id, int(pending["seq"]), int(pending["attempt"])
        raise AsyncActivityCancelledError(
            f"no pending activity {id_or_token.activity_id!r} in workflow "
            f"{id_or_token.workflow_id!r}: it completed, timed out or was cancelled")
    return parse_task_token(id_or_token)


def parse_task_token(token: bytes) -> tuple[str, int, int]:
    try:
        run, seq, attempt = token.decode().rsplit("/", 2)
        return run, int(seq), int(attempt)
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"task_token {token!r} is not a Stalwart activity task "
                         "token") from None


async def _encode(client: Client, override: DataConverter | None, values: Sequence[Any],
                  what: str) -> list[dict[str, Any]]:
    if override is None:
        return await client._encode(values, what)
    return [await encode_value(_payload_to_json(p), override._store_codec)
            for p in override.payload_converter.to_payloads(list(values))]


async def heartbeat_async_activity(client: Client, input: HeartbeatAsyncActivityInput) -> None:
    run_id, seq, attempt = await _attempt(client, input.id_or_token)
    payloads = await _encode(client, input.data_converter_override, input.details,
                             "heartbeat details")
    # Any holder of the attempt: right after raise_complete_async() its worker may not have
    # handed the attempt over yet, and temporalio's server takes a token's heartbeat then.
    cancel = await client.store.heartbeat_activity_task(run_id, seq, attempt, None,
                                                        payloads, client._clock.now())
    if cancel is None or cancel:
        raise AsyncActivityCancelledError("the activity was cancelled or is no longer "
                                          "pending")


async def complete_async_activity(client: Client, input: CompleteAsyncActivityInput) -> None:
    run_id, seq, attempt = await _attempt(client, input.id_or_token)
    payload = (await _encode(client, input.data_converter_override, [input.result],
                             "activity result"))[0]
    accepted, _ = await client.store.complete_activity_task(
        run_id, seq, attempt, None, payload, client.identity, client._clock.now(), False)
    if not accepted:
        raise AsyncActivityCancelledError(
            "the activity is no longer pending (it timed out, was cancelled, or its "
            "workflow closed); its result was not recorded")


async def fail_async_activity(client: Client, input: FailAsyncActivityInput) -> None:
    run_id, seq, attempt = await _attempt(client, input.id_or_token)
    converter = input.data_converter_override or client.data_converter
    failure = converter.failure_converter.to_failure(input.error, converter.payload_converter)
    failure = await encode_value(failure, converter._store_codec)
    final = activity_error_failure(failure, "", str(seq), client.identity,
                                   RetryState.NON_RETRYABLE_FAILURE)
    accepted = await client.store.fail_activity_task(
        run_id, seq, attempt, None, failure, final, None, None, "ActivityTaskFailed",
        client.identity, client._clock.now())
    if not accepted:
        raise AsyncActivityCancelledError("the activity is no longer pending")


async def report_cancellation_async_activity(client: Client,
                                             input: ReportCancellationAsyncActivityInput
                                             ) -> None:
    """Record that the activity accepted a cancel request: it ends as cancelled."""
    run_id, seq, attempt = await _attempt(client, input.id_or_token)
    converter = input.data_converter_override or client.data_converter
    cancelled = CancelledError("Activity cancelled", *input.details)
    failure = converter.failure_converter.to_failure(cancelled, converter.payload_converter)
    failure = await encode_value(failure, converter._store_codec)
    final = activity_error_failure(failure, "", str(seq), client.identity,
                                   RetryState.CANCEL_REQUESTED)
    accepted = await client.store.fail_activity_task(
        run_id, seq, attempt, None, failure, final, None, None, "ActivityTaskCanceled",
        client.identity, client._clock.now())
    if not accepted:
        raise AsyncActivityCancelledError("the activity is no longer pending")
