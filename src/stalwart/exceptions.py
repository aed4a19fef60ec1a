"""The public error tree (mirrors ``temporalio.exceptions``).

::

    StalwartError (alias TemporalError)
     ├── FailureError                  a failure that can be recorded in history
     │    ├── ApplicationError         raised by user code; type, non_retryable, details
     │    ├── CancelledError           cancellation that reached user code
     │    ├── TerminatedError          the workflow was terminated
     │    ├── TimeoutError             with TimeoutType: start-to-close, heartbeat, ...
     │    ├── ServerError              the engine itself refused something
     │    ├── ActivityError            an activity failed; the cause says why
     │    └── ChildWorkflowError       a child workflow failed; the cause says why
     ├── WorkflowAlreadyStartedError   the workflow id is already running
     ├── WorkflowFailureError          client side: the workflow failed; ``cause`` says why
     ├── WorkflowContinuedAsNewError   client side: the run continued as new
     ├── WorkflowNotFoundError         client side: no such workflow id / run id
     ├── NondeterminismError           workflow code no longer matches its history
     └── StoreError                    the store is unreadable, foreign or unavailable
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import IntEnum
from typing import Any

__all__ = [
    "ActivityAlreadyStartedError",
    "ActivityError",
    "ApplicationError",
    "ApplicationErrorCategory",
    "AsyncActivityCancelledError",
    "CancelledError",
    "ChildWorkflowError",
    "FailureError",
    "NondeterminismError",
    "RPCError",
    "RPCStatusCode",
    "RestrictedWorkflowAccessError",
    "RetryState",
    "ServerError",
    "StalwartError",
    "StoreError",
    "TemporalError",
    "TerminatedError",
    "TimeoutError",
    "TimeoutType",
    "WorkflowAlreadyStartedError",
    "WorkflowContinuedAsNewError",
    "WorkflowFailureError",
    "WorkflowNotFoundError",
    "WorkflowQueryFailedError",
    "WorkflowUpdateFailedError",
    "is_cancelled_exception",
]


class StalwartError(Exception):
    """Base of every error Stalwart raises."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    @property
    def cause(self) -> BaseException | None:
        """The error that caused this one (``__cause__``)."""
        return self.__cause__


TemporalError = StalwartError


class FailureError(StalwartError):
    """A failure that is recorded in a workflow's history and can cross process boundaries."""

    def __init__(self, message: str, *, exc_args: tuple[Any, ...] | None = None) -> None:
        super().__init__(*(exc_args if exc_args is not None else (message,)))
        self._message = message
        self._failure: dict[str, Any] | None = None

    @property
    def message(self) -> str:
        return self._message

    @property
    def failure(self) -> FailureRecord | None:
        """The recorded failure this error was rebuilt from, if any: a dict of Temporal's
        ``Failure`` fields, also readable as attributes (``failure.stack_trace``), as
        temporalio's ``Failure`` message is."""
        return FailureRecord(self._failure) if self._failure is not None else None


_FAILURE_TEXT_FIELDS = frozenset({"message", "source", "stack_trace"})


class FailureRecord(dict[str, Any]):
    """A recorded failure: a dict of Temporal's ``Failure`` fields (``message``, ``source``,
    ``stack_trace``, ``cause``, ``application_failure_info``, ...), whose fields also read as
    attributes, as on temporalio's ``Failure`` message. An absent text field reads as ``""``
    (as in protobuf); an absent message field as None; ``HasField`` tells them apart."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self:
            value = self[name]
            return FailureRecord(value) if isinstance(value, dict) and \
                not isinstance(value, FailureRecord) else value
        if name in _FAILURE_TEXT_FIELDS:
            return ""
        return None

    def HasField(self, name: str) -> bool:
        return self.get(name) not in (None, "", {}, [])


class ApplicationErrorCategory(IntEnum):
    UNSPECIFIED = 0
    BENIGN = 1


class ApplicationError(FailureError):
    """An error raised by user code, with a type name used for retry decisions.

    Args:
        message: Human-readable message.
        details: Extra values recorded with the failure (must be serializable).
        type: Type name matched against ``RetryPolicy.non_retryable_error_types`` (an
            ``ApplicationError`` without one carries no type, as in temporalio; other
            exceptions are recorded with their class name as type).
        non_retryable: Fail at once, whatever the retry policy says.
        next_retry_delay: Override the retry policy's delay for the next attempt.
        category: ``BENIGN`` errors are logged quietly.
    """

    def __init__(
        self,
        message: str,
        *details: Any,
        type: str | None = None,
        non_retryable: bool = False,
        next_retry_delay: timedelta | None = None,
        category: ApplicationErrorCategory = ApplicationErrorCategory.UNSPECIFIED,
    ) -> None:
        # As in temporalio, str() shows the type first; ``message`` is the message alone.
        super().__init__(message, exc_args=(f"{type}: {message}" if type else message,))
        self._details = details
        self._type = type
        self._non_retryable = non_retryable
        self._next_retry_delay = next_retry_delay
        self._category = category

    def __reduce__(self) -> Any:
        return (_rebuild_application_error, (self.message, self._details, self._type,
                                             self._non_retryable, self._next_retry_delay,
                                             self._category))

    @property
    def details(self) -> Sequence[Any]:
        return self._details

    @property
    def type(self) -> str | None:
        return self._type

    @property
    def non_retryable(self) -> bool:
        return self._non_retryable

    @property
    def next_retry_delay(self) -> timedelta | None:
        return self._next_retry_delay

    @property
    def category(self) -> ApplicationErrorCategory:
        return self._category


def _rebuild_application_error(
    message: str, details: tuple[Any, ...], type_: str | None, non_retryable: bool,
    next_retry_delay: timedelta | None, category: ApplicationErrorCategory,
) -> ApplicationError:
    return ApplicationError(message, *details, type=type_, non_retryable=non_retryable,
                            next_retry_delay=next_retry_delay, category=category)


class CancelledError(FailureError):
    """Cancellation recorded as a failure (an activity or child that was cancelled)."""

    def __init__(self, message: str = "Cancelled", *details: Any) -> None:
        super().__init__(message)
        self._details = details

    @property
    def details(self) -> Sequence[Any]:
        return self._details


class TerminatedError(FailureError):
    """The workflow was terminated; no cleanup ran."""

    def __init__(self, message: str, *details: Any) -> None:
        super().__init__(message)
        self._details = details

    @property
    def details(self) -> Sequence[Any]:
        return self._details


class TimeoutType(IntEnum):
    """Which timeout expired (temporalio's values)."""

    START_TO_CLOSE = 1
    SCHEDULE_TO_START = 2
    SCHEDULE_TO_CLOSE = 3
    HEARTBEAT = 4


class TimeoutError(FailureError):
    """A timeout of the given type expired (enforced by the store, not the worker)."""

    def __init__(
        self, message: str, *, type: TimeoutType | None,
        last_heartbeat_details: Sequence[Any] = (),
    ) -> None:
        super().__init__(message)
        self._type = type
        self._last_heartbeat_details = last_heartbeat_details

    def __reduce__(self) -> Any:
        return (_rebuild_timeout_error, (self.message, self._type,
                                         tuple(self._last_heartbeat_details)))

    @property
    def type(self) -> TimeoutType | None:
        return self._type

    @property
    def last_heartbeat_details(self) -> Sequence[Any]:
        return self._last_heartbeat_details


def _rebuild_timeout_error(
    message: str, type_: TimeoutType | None, details: tuple[Any, ...]
) -> TimeoutError:
    return TimeoutError(message, type=type_, last_heartbeat_details=details)


class ServerError(FailureError):
    """The engine refused or failed an operation on its own account."""

    def __init__(self, message: str, *, non_retryable: bool = False) -> None:
        super().__init__(message)
        self._non_retryable = non_retryable

    @property
    def non_retryable(self) -> bool:
        return self._non_retryable


class RetryState(IntEnum):
    UNSPECIFIED = 0
    IN_PROGRESS = 1
    NON_RETRYABLE_FAILURE = 2
    TIMEOUT = 3
    MAXIMUM_ATTEMPTS_REACHED = 4
    RETRY_POLICY_NOT_SET = 5
    INTERNAL_SERVER_ERROR = 6
    CANCEL_REQUESTED = 7


class ActivityError(FailureError):
    """An activity failed for good; ``__cause__`` holds the reason."""

    def __init__(
        self, message: str, *, scheduled_event_id: int, started_event_id: int,
        identity: str, activity_type: str, activity_id: str, retry_state: RetryState | None,
    ) -> None:
        super().__init__(message)
        self._scheduled_event_id = scheduled_event_id
        self._started_event_id = started_event_id
        self._identity = identity
        self._activity_type = activity_type
        self._activity_id = activity_id
        self._retry_state = retry_state

    @property
    def scheduled_event_id(self) -> int:
        return self._scheduled_event_id

    @property
    def started_event_id(self) -> int:
        return self._started_event_id

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def activity_type(self) -> str:
        return self._activity_type

    @property
    def activity_id(self) -> str:
        return self._activity_id

    @property
    def retry_state(self) -> RetryState | None:
        return self._retry_state

    def __reduce__(self) -> Any:
        return (_rebuild_keyword_error, (ActivityError, self.message, {
            "scheduled_event_id": self.scheduled_event_id,
            "started_event_id": self.started_event_id, "identity": self.identity,
            "activity_type": self.activity_type, "activity_id": self.activity_id,
            "retry_state": self.retry_state}))


class ChildWorkflowError(FailureError):
    """A child workflow failed; ``__cause__`` holds the reason."""

    def __init__(
        self, message: str, *, namespace: str, workflow_id: str, run_id: str,
        workflow_type: str, initiated_event_id: int, started_event_id: int,
        retry_state: RetryState | None,
    ) -> None:
        super().__init__(message)
        self._namespace = namespace
        self._workflow_id = workflow_id
        self._run_id = run_id
        self._workflow_type = workflow_type
        self._initiated_event_id = initiated_event_id
        self._started_event_id = started_event_id
        self._retry_state = retry_state

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def workflow_id(self) -> str:
        return self._workflow_id

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def workflow_type(self) -> str:
        return self._workflow_type

    @property
    def initiated_event_id(self) -> int:
        return self._initiated_event_id

    @property
    def started_event_id(self) -> int:
        return self._started_event_id

    @property
    def retry_state(self) -> RetryState | None:
        return self._retry_state

    def __reduce__(self) -> Any:
        return (_rebuild_keyword_error, (ChildWorkflowError, self.message, {
            "namespace": self.namespace, "workflow_id": self.workflow_id, "run_id": self.run_id,
            "workflow_type": self.workflow_type, "initiated_event_id": self.initiated_event_id,
            "started_event_id": self.started_event_id, "retry_state": self.retry_state}))


def _rebuild_keyword_error(cls: Any, message: str, kwargs: dict[str, Any]) -> Any:
    return cls(message, **kwargs)


class ActivityAlreadyStartedError(FailureError):
    """An activity started from a client whose id is running (or whose id-reuse policy
    forbids another run); mirrors ``temporalio.exceptions.ActivityAlreadyStartedError``."""

    def __init__(self, activity_id: str, activity_type: str, *,
                 run_id: str | None = None) -> None:
        super().__init__("Activity execution already started")
        self.activity_id = activity_id
        self.activity_type = activity_type
        self.run_id = run_id

    def __reduce__(self) -> Any:
        return (_rebuild_activity_started, (self.activity_id, self.activity_type, self.run_id))


def _rebuild_activity_started(activity_id: str, activity_type: str,
                              run_id: str | None) -> ActivityAlreadyStartedError:
    return ActivityAlreadyStartedError(activity_id, activity_type, run_id=run_id)


class WorkflowAlreadyStartedError(StalwartError):
    """A workflow with this id is already running (or its id-reuse policy forbids a new run)."""

    def __init__(self, workflow_id: str, workflow_type: str, *, run_id: str | None = None,
                 reason: str | None = None) -> None:
        super().__init__(
            reason or f"Workflow execution already started: workflow id {workflow_id!r} "
            f"(type {workflow_type}) is running as run {run_id}; choose another id, wait for "
            "it to close, or pass id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING"
        )
        self.workflow_id = workflow_id
        self.workflow_type = workflow_type
        self.run_id = run_id

    @property
    def failure(self) -> None:
        """temporalio's underlying failure message: none for this error, as there (it is
        raised from the start's answer, not from a recorded failure)."""
        return None

    def __reduce__(self) -> Any:
        return (_rebuild_started_error, (self.workflow_id, self.workflow_type, self.run_id,
                                         self.message))


def _rebuild_started_error(
    workflow_id: str, workflow_type: str, run_id: str | None, message: str
) -> WorkflowAlreadyStartedError:
    return WorkflowAlreadyStartedError(workflow_id, workflow_type, run_id=run_id, reason=message)


class WorkflowFailureError(StalwartError):
    """Raised by ``WorkflowHandle.result()`` when the workflow failed; ``cause`` says why."""

    def __init__(self, *, cause: BaseException) -> None:
        super().__init__("Workflow execution failed")
        self.__cause__ = cause

    def __reduce__(self) -> Any:
        # The cause is keyword-only and lives in __cause__, which pickle does not carry.
        return (_rebuild_workflow_failure_error, (self.__cause__,))

    @property
    def cause(self) -> BaseException:
        assert self.__cause__ is not None
        return self.__cause__


def _rebuild_workflow_failure_error(cause: BaseException) -> WorkflowFailureError:
    return WorkflowFailureError(cause=cause)


class WorkflowContinuedAsNewError(StalwartError):
    """The run continued as new and the caller asked not to follow runs."""

    new_execution_run_id: str  # the run it continued as

    def __init__(self, new_execution_run_id: str) -> None:
        super().__init__("Workflow continued as new")
        self.new_execution_run_id = new_execution_run_id


class RPCStatusCode(IntEnum):
    """Mirrors ``temporalio.service.RPCStatusCode`` (gRPC's status codes)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


@dataclass(frozen=True)
class GrpcStatus:
    """The fields of Temporal's ``GrpcStatus`` proto that ``RPCError.grpc_status`` gives:
    the status code, its message, and no details (the store sends none)."""

    code: int
    message: str
    details: tuple[Any, ...] = ()


class RPCError(StalwartError):
    """A client call the store refused, where Temporal's server refuses it with a gRPC status
    (mirrors ``temporalio.service.RPCError``; ``raw_grpc_status`` is always empty here)."""

    def __init__(self, message: str, status: RPCStatusCode = RPCStatusCode.UNKNOWN,
                 raw_grpc_status: bytes = b"") -> None:
        super().__init__(message)
        self._status = status
        self._raw_grpc_status = raw_grpc_status

    @property
    def status(self) -> RPCStatusCode:
        return self._status

    @property
    def raw_grpc_status(self) -> bytes:
        return self._raw_grpc_status

    @property
    def grpc_status(self) -> GrpcStatus:
        return GrpcStatus(int(self._status), self.message)

    def __reduce__(self) -> Any:
        return (type(self)._rebuild, (self.message, int(self._status)))

    @classmethod
    def _rebuild(cls, message: str, status: int) -> RPCError:
        error = cls.__new__(cls)
        RPCError.__init__(error, message, RPCStatusCode(status))
        return error


class WorkflowNotFoundError(RPCError):
    """No such workflow, or it is already closed (an ``RPCError`` with status ``NOT_FOUND``,
    as Temporal's server answers)."""

    def __init__(self, message: str, status: RPCStatusCode = RPCStatusCode.NOT_FOUND) -> None:
        super().__init__(message, status)


class WorkflowQueryFailedError(StalwartError):
    """A query could not be answered (unknown handler, handler raised, bad arguments)."""


class WorkflowQueryRejectedError(StalwartError):
    """The query's ``reject_condition`` refused it; ``status`` is the workflow's status."""

    def __init__(self, status: Any) -> None:
        super().__init__(f"Query rejected, status: {status}")
        self._status = status

    @property
    def status(self) -> Any:
        return self._status

    def __reduce__(self) -> Any:
        return (WorkflowQueryRejectedError, (self._status,))


class RPCTimeoutOrCancelledError(StalwartError):
    """A client call gave up waiting (its ``rpc_timeout`` passed) or was cancelled."""


class WorkflowUpdateRPCTimeoutOrCancelledError(RPCTimeoutOrCancelledError):
    """Waiting for an update's outcome timed out or was cancelled; the update itself goes
    on (get a new handle and wait again)."""

    def __init__(self) -> None:
        super().__init__("Timeout or cancellation waiting for update")

    def __reduce__(self) -> Any:
        return (WorkflowUpdateRPCTimeoutOrCancelledError, ())


class WorkflowQueryTimedOutError(RPCError, WorkflowQueryFailedError):
    """No worker answered the query in time: an ``RPCError`` (``DEADLINE_EXCEEDED``) as with
    Temporal, and a ``WorkflowQueryFailedError`` too."""

    def __init__(self, message: str) -> None:
        RPCError.__init__(self, message, RPCStatusCode.DEADLINE_EXCEEDED)


class WorkflowUpdateFailedError(StalwartError):
    """An update was rejected by its validator or its handler failed; ``cause`` says why."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__("Workflow update failed")
        self.__cause__ = cause

    def __reduce__(self) -> Any:
        # args holds the fixed message, not the cause; pickle does not carry __cause__.
        return (WorkflowUpdateFailedError, (self.__cause__,))


class AsyncActivityCancelledError(StalwartError):
    """The activity completed asynchronously was cancelled or is no longer pending."""


class NondeterminismError(StalwartError):
    """Workflow code produced commands that do not match its recorded history."""


class RestrictedWorkflowAccessError(NondeterminismError):
    """Workflow code called something non-deterministic (clock, randomness, I/O):
    ``qualified_name`` names it (as temporalio's sandbox error does)."""

    def __init__(self, qualified_name: str, *, override_message: str | None = None) -> None:
        super().__init__(override_message or self.default_message(qualified_name))
        self.qualified_name = qualified_name

    @staticmethod
    def default_message(qualified_name: str) -> str:
        return (f"Cannot access {qualified_name} from inside a workflow. Do it in an activity, "
                "or use the workflow API's deterministic alternative.")

    def __reduce__(self) -> Any:
        return (_rebuild_restricted, (self.qualified_name, self.message))


def _rebuild_restricted(qualified_name: str, message: str) -> RestrictedWorkflowAccessError:
    return RestrictedWorkflowAccessError(qualified_name, override_message=message)


class ReadOnlyContextError(StalwartError, RuntimeError):
    """A state-changing workflow call was made where only reading is allowed (a query
    handler or an update validator)."""


class StoreError(StalwartError):
    """The store cannot be opened or used (unreadable, foreign, unavailable)."""


def is_cancelled_exception(exception: BaseException) -> bool:
    """Whether ``exception`` is, or was caused by, a cancellation."""
    import asyncio

    if isinstance(exception, asyncio.CancelledError | CancelledError):
        return True
    cause = exception.__cause__
    return isinstance(exception, ActivityError | ChildWorkflowError) and isinstance(
        cause, CancelledError
    )
