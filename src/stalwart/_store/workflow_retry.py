"""Workflow retries, as Temporal's server makes them: whether a run that failed or timed out
by its run timeout is retried, after what backoff, and what its retry is started with.

Both places a run can close with a retry use this: a workflow task that fails the run (the
engine decides its close) and the sweeper that times a run out. The retry is the chain's next
run, started the way a cron run or a continue-as-new starts the next one.
"""

from __future__ import annotations

from typing import Any

from .base import StartWorkflowRequest

# Temporal's RetryState values.
IN_PROGRESS = 1
NON_RETRYABLE_FAILURE = 2
TIMEOUT = 3
MAXIMUM_ATTEMPTS_REACHED = 4
RETRY_POLICY_NOT_SET = 5

# The failure Temporal's server gives a run that its run timeout ended, which its retry gets
# as its last failure.
RUN_TIMEOUT_FAILURE: dict[str, Any] = {
    "message": "workflow timeout", "source": "Server",
    "timeout_failure_info": {"timeout_type": 1}}  # TIMEOUT_TYPE_START_TO_CLOSE


def settled_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """A policy (``RetryPolicy._to_json`` form) with its maximum interval filled in, as
    temporalio sends one to Temporal's server (``RetryPolicy._to_settled_json``)."""
    if policy.get("maximum_interval") is not None:
        return policy
    return {**policy, "maximum_interval": float(policy.get("initial_interval") or 1.0) * 100}


def _retryable(failure: dict[str, Any] | None, non_retryable_types: list[str]) -> bool:
    """As Temporal's server judges a run's failure: only the failure itself counts, not its
    causes; a cancellation or termination is never retried."""
    if not failure:
        return True
    if failure.get("canceled_failure_info") is not None \
            or failure.get("terminated_failure_info") is not None:
        return False
    info = failure.get("application_failure_info")
    if info is not None:
        return not info.get("non_retryable") and info.get("type", "") not in non_retryable_types
    return True


def retry_backoff(policy: dict[str, Any] | None, attempt: int,
                  failure: dict[str, Any] | None, now: float,
                  expiration: float | None) -> tuple[int, float | None]:
    """(retry state, backoff): the backoff before attempt ``attempt + 1`` starts its first
    workflow task, or None when the chain ends here, the retry state saying why."""
    if not policy:
        return RETRY_POLICY_NOT_SET, None
    if not _retryable(failure, list(policy.get("non_retryable_error_types") or [])):
        return NON_RETRYABLE_FAILURE, None
    maximum_attempts = int(policy.get("maximum_attempts") or 0)
    if maximum_attempts > 0 and attempt >= maximum_attempts:
        return MAXIMUM_ATTEMPTS_REACHED, None
    initial = float(policy.get("initial_interval") or 1.0)
    coefficient = float(policy.get("backoff_coefficient") or 2.0)
    maximum = float(policy.get("maximum_interval") or 100 * initial)
    backoff = min(initial * coefficient ** (attempt - 1), maximum)
    if expiration is not None and now + backoff > expiration:
        # The retry would start after the chain's execution timeout.
        return TIMEOUT, None
    return IN_PROGRESS, backoff


def retry_request(started: dict[str, Any], *, run_id: str, continued_run_id: str,
                  random_seed: int, identity: str, failure: dict[str, Any] | None,
                  backoff: float, memo: dict[str, Any] | None,
                  search_attributes: dict[str, Any] | None) -> StartWorkflowRequest:
    """The retry of a run started with ``started`` (its WorkflowExecutionStarted attributes):
    the same workflow, input, header, policy and timeouts (the store carries the chain's
    execution timeout, first run and parent over), attempt + 1, the failure as its last
    failure, its first workflow task after ``backoff``. ``memo`` and ``search_attributes``:
    the run's own as it closed."""
    return StartWorkflowRequest(
        workflow_id=started["workflow_id"], workflow_type=started["workflow_type"],
        task_queue=started["task_queue"], input=started.get("input") or [], run_id=run_id,
        random_seed=random_seed, continued_run_id=continued_run_id, identity=identity,
        memo=memo, search_attributes=search_attributes, header=started.get("header"),
        cron_schedule=started.get("cron_schedule"), first_task_backoff=backoff,
        initiator="RetryPolicy", attempt=int(started.get("attempt") or 1) + 1,
        last_completion_result=started.get("last_completion_result"),
        continued_failure=failure, retry_policy=started.get("retry_policy"),
        run_timeout=started.get("run_timeout"), task_timeout=started.get("task_timeout"),
        priority=started.get("priority"), root=started.get("root"))
