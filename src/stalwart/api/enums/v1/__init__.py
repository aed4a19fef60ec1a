"""``temporalio.api.enums.v1``'s enums that code reading histories and failures compares
with: the same member names and numbers, and protobuf's ``Name``, ``Value``, ``keys``,
``values`` and ``items``. Members are ints, as in temporalio."""

from __future__ import annotations

from ...._model.proto_enums import (
    ActivityTaskFailedCause,
    ApplicationErrorCategory,
    CancelExternalWorkflowExecutionFailedCause,
    ContinueAsNewInitiator,
    EventType,
    IndexedValueType,
    ParentClosePolicy,
    PendingActivityState,
    PendingWorkflowTaskState,
    RetryState,
    SignalExternalWorkflowExecutionFailedCause,
    StartChildWorkflowExecutionFailedCause,
    SuggestContinueAsNewReason,
    TaskQueueKind,
    TimeoutType,
    UpdateAdmittedEventOrigin,
    WorkflowExecutionStatus,
    WorkflowIdConflictPolicy,
    WorkflowIdReusePolicy,
    WorkflowTaskFailedCause,
)

__all__ = [
    "ActivityTaskFailedCause",
    "ApplicationErrorCategory",
    "CancelExternalWorkflowExecutionFailedCause",
    "ContinueAsNewInitiator",
    "EventType",
    "IndexedValueType",
    "ParentClosePolicy",
    "PendingActivityState",
    "PendingWorkflowTaskState",
    "RetryState",
    "SignalExternalWorkflowExecutionFailedCause",
    "StartChildWorkflowExecutionFailedCause",
    "SuggestContinueAsNewReason",
    "TaskQueueKind",
    "TimeoutType",
    "UpdateAdmittedEventOrigin",
    "WorkflowExecutionStatus",
    "WorkflowIdConflictPolicy",
    "WorkflowIdReusePolicy",
    "WorkflowTaskFailedCause",
]
