"""ActivityError/ChildWorkflowError attributes are read-only properties, as temporalio's, and
survive pickling (errors cross process boundaries in tests and thread pools);
RPCError.grpc_status mirrors the status it was raised with."""

from __future__ import annotations

import logging
import pickle

import pytest

from stalwart import activity
from stalwart import workflow as workflow_api
from stalwart.exceptions import (
    ActivityError,
    ChildWorkflowError,
    RetryState,
    RPCError,
    RPCStatusCode,
    WorkflowAlreadyStartedError,
)


def test_activity_error_attributes() -> None:
    error = ActivityError("Activity task failed", scheduled_event_id=5, started_event_id=6,
                          identity="1@host", activity_type="charge", activity_id="1",
                          retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED)
    again = pickle.loads(pickle.dumps(error))
    for value in (error, again):
        assert (value.scheduled_event_id, value.started_event_id, value.identity,
                value.activity_type, value.activity_id, value.retry_state) == (
            5, 6, "1@host", "charge", "1", RetryState.MAXIMUM_ATTEMPTS_REACHED)
    with pytest.raises(AttributeError):
        error.activity_id = "2"  # type: ignore[misc]


def test_child_workflow_error_attributes() -> None:
    error = ChildWorkflowError("Child Workflow execution failed", namespace="default",
                               workflow_id="c", run_id="r", workflow_type="Child",
                               initiated_event_id=11, started_event_id=12,
                               retry_state=RetryState.TIMEOUT)
    again = pickle.loads(pickle.dumps(error))
    for value in (error, again):
        assert (value.namespace, value.workflow_id, value.run_id, value.workflow_type,
                value.initiated_event_id, value.started_event_id, value.retry_state) == (
            "default", "c", "r", "Child", 11, 12, RetryState.TIMEOUT)
    with pytest.raises(AttributeError):
        error.run_id = "other"  # type: ignore[misc]


def test_rpc_error_grpc_status() -> None:
    error = RPCError("workflow not found", RPCStatusCode.NOT_FOUND)
    status = error.grpc_status
    assert (status.code, status.message, status.details) == (5, "workflow not found", ())


def test_already_started_error_has_no_underlying_failure_and_loggers_expose_theirs() -> None:
    assert WorkflowAlreadyStartedError("w", "W", run_id="r").failure is None
    assert activity.logger.base_logger is logging.getLogger("stalwart.activity")
    assert workflow_api.logger.base_logger is logging.getLogger("stalwart.workflow")
