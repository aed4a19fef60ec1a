"""Whether a failed workflow run is retried and after what backoff (Temporal's server's rules),
and the close a workflow task's failure decides for a run with a retry policy."""

from __future__ import annotations

from typing import Any

from stalwart._engine.decisions import RetryRun, TaskContext, decide
from stalwart._model.events import Command, EventType
from stalwart._store import workflow_retry as wr
from stalwart._store.base import CloseRun, ExecutionStatus

POLICY = {"initial_interval": 1.0, "backoff_coefficient": 2.0, "maximum_interval": 5.0,
          "maximum_attempts": 5, "non_retryable_error_types": ["Fatal"]}


def _app(type_: str = "Flaky", non_retryable: bool = False) -> dict[str, Any]:
    return {"message": "boom", "application_failure_info": {
        "type": type_, "non_retryable": non_retryable}}


def test_backoff_grows_by_the_coefficient_up_to_the_maximum_interval() -> None:
    backoffs = [wr.retry_backoff(POLICY, attempt, _app(), 0.0, None) for attempt in (1, 2, 3, 4)]
    assert backoffs == [(wr.IN_PROGRESS, 1.0), (wr.IN_PROGRESS, 2.0), (wr.IN_PROGRESS, 4.0),
                        (wr.IN_PROGRESS, 5.0)]


def test_what_ends_the_chain() -> None:
    assert wr.retry_backoff(None, 1, _app(), 0.0, None) == (wr.RETRY_POLICY_NOT_SET, None)
    assert wr.retry_backoff(POLICY, 1, _app("Fatal"), 0.0, None) == \
        (wr.NON_RETRYABLE_FAILURE, None)
    assert wr.retry_backoff(POLICY, 1, _app(non_retryable=True), 0.0, None) == \
        (wr.NON_RETRYABLE_FAILURE, None)
    for failure in ({"canceled_failure_info": {}}, {"terminated_failure_info": {}}):
        assert wr.retry_backoff(POLICY, 1, failure, 0.0, None)[0] == wr.NON_RETRYABLE_FAILURE
    assert wr.retry_backoff(POLICY, 5, _app(), 0.0, None) == \
        (wr.MAXIMUM_ATTEMPTS_REACHED, None)
    # The retry would start after the chain expires.
    assert wr.retry_backoff(POLICY, 1, _app(), 10.0, 10.5) == (wr.TIMEOUT, None)
    assert wr.retry_backoff(POLICY, 1, _app(), 10.0, 11.0) == (wr.IN_PROGRESS, 1.0)


def test_unlimited_attempts_and_the_default_maximum_interval() -> None:
    policy = {"initial_interval": 2.0, "backoff_coefficient": 10.0, "maximum_interval": None,
              "maximum_attempts": 0}
    assert wr.retry_backoff(policy, 50, _app(), 0.0, None) == (wr.IN_PROGRESS, 200.0)
    assert wr.settled_policy(policy)["maximum_interval"] == 200.0


def _failing(started: dict[str, Any]) -> CloseRun:
    context = TaskContext(run_id="run-1", workflow_id="wf-1", identity="worker-a",
                          task_queue="tq", eager_slots=0, random_seed=lambda: 7,
                          new_run_id=lambda: "run-2", now=100.0, retry=RetryRun(started))
    [decision] = decide([Command(EventType.WORKFLOW_EXECUTION_FAILED, {"failure": _app()})],
                        context)
    assert isinstance(decision.effect, CloseRun)
    assert decision.attributes["retry_state"] == decision.effect.retry_state
    return decision.effect


def test_a_failing_task_closes_the_run_naming_its_retry() -> None:
    started = {"workflow_id": "wf-1", "workflow_type": "Flaky", "task_queue": "tq",
               "input": [{"data": "1"}], "attempt": 2, "retry_policy": POLICY,
               "run_timeout": 30.0, "header": {"h": {"data": "x"}}}
    close = _failing(started)
    assert close.status == ExecutionStatus.FAILED
    assert close.retry_state == wr.IN_PROGRESS
    retry = close.next_run
    assert retry is not None
    assert (retry.run_id, retry.continued_run_id, retry.attempt, retry.first_task_backoff,
            retry.initiator) == ("run-2", "run-1", 3, 2.0, "RetryPolicy")
    assert (retry.input, retry.header, retry.retry_policy, retry.run_timeout) == \
        (started["input"], started["header"], POLICY, 30.0)
    assert retry.continued_failure == _app()


def test_a_failing_task_on_its_last_attempt_ends_the_chain() -> None:
    close = _failing({"workflow_id": "wf-1", "workflow_type": "Flaky", "task_queue": "tq",
                      "attempt": 5, "retry_policy": POLICY})
    assert (close.next_run, close.retry_state) == (None, wr.MAXIMUM_ATTEMPTS_REACHED)
