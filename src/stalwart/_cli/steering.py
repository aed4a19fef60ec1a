"""``stalwart workflow reset|fork`` and ``stalwart activity pause|unpause|reset|update-options``,
with the flags of ``temporal workflow reset`` and ``temporal activity ...``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from ..common import RetryPolicy

if TYPE_CHECKING:
    from ..client import Client

# Go-style durations as Temporal's CLI takes them: 30s, 5m, 1h30m, 250ms.
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip()
        parts = _PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            self.fail(f"{text[:60]!r} is not a duration; write e.g. 30s, 5m, 1h30m",
                      param, ctx)
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
        if seconds > 10 * 365 * 86400:
            self.fail(f"{text[:60]!r} is longer than ten years", param, ctx)
        return timedelta(seconds=seconds)


DURATION = Duration()
RESET_TYPES = click.Choice(["FirstWorkflowTask", "LastWorkflowTask", "LastContinuedAsNew"],
                           case_sensitive=False)


def register(main: Any) -> None:
    """Add the commands to the ``stalwart`` command of ``main`` (the CLI's main module, as
    imported or run with ``-m``), built with its helpers."""
    _client: Callable[[click.Context], Awaitable[Client]] = main._client
    _emit: Callable[..., None] = main._emit
    _run: Callable[[Callable[..., Coroutine[Any, Any, None]]], Callable[..., None]] = main._run
    printable: Callable[[str], str] = main.printable
    _workflow_id_option: Callable[[Callable[..., Any]], Callable[..., Any]] = \
        main._workflow_id_option
    cli: click.Group = main.cli
    workflow: click.Group = main.workflow

    def _reset_options(fn: Any) -> Any:
        for option in reversed([
            click.option("--event-id", "-e", type=click.IntRange(1), default=None,
                         help="A WorkflowTaskStarted/Completed/Failed event id to reset to."),
            click.option("--type", "-t", "reset_type", type=RESET_TYPES, default=None,
                         help="FirstWorkflowTask, LastWorkflowTask or LastContinuedAsNew."),
            click.option("--reason", required=True, help="Why (recorded in the history)."),
            click.option("--reapply-type", type=click.Choice(["AllEligible", "Signal", "None"],
                                                             case_sensitive=False),
                         default="AllEligible", show_default=True,
                         help="What after the point to reapply (older Temporal CLI flag)."),
            click.option("--reapply-exclude", multiple=True,
                         type=click.Choice(["All", "Signal", "Update"], case_sensitive=False),
                         help="Do not reapply these (repeatable)."),
        ]):
            fn = option(fn)
        return fn


    @workflow.command("reset")
    @_workflow_id_option
    @_reset_options
    @click.pass_context
    @_run
    async def reset(ctx: click.Context, workflow_id: str, run_id: str | None,
                    event_id: int | None, reset_type: str | None, reason: str, reapply_type: str,
                    reapply_exclude: tuple[str, ...]) -> None:
        """Reset a workflow to a workflow task: its open run is terminated and a new run carries
        on from that task, reusing every result recorded before it."""
        client = await _client(ctx)
        try:
            new = await client.get_workflow_handle(workflow_id, run_id=run_id).reset(
                event_id=event_id, reset_type=reset_type, reason=reason,
                reapply_type=reapply_type, reapply_exclude=reapply_exclude)
        finally:
            await client.close()
        _emit(ctx, {"workflow_id": workflow_id, "run_id": new.run_id},
              lambda: printable(f"Reset workflow {workflow_id}: new run {new.run_id}"))


    @workflow.command("fork")
    @_workflow_id_option
    @click.option("--new-workflow-id", required=True, help="The id of the forked workflow.")
    @_reset_options
    @click.pass_context
    @_run
    async def fork(ctx: click.Context, workflow_id: str, run_id: str | None, new_workflow_id: str,
                   event_id: int | None, reset_type: str | None, reason: str, reapply_type: str,
                   reapply_exclude: tuple[str, ...]) -> None:
        """Like reset, into a new workflow id, leaving the original untouched."""
        client = await _client(ctx)
        try:
            new = await client.get_workflow_handle(workflow_id, run_id=run_id).fork(
                new_workflow_id, event_id=event_id, reset_type=reset_type, reason=reason,
                reapply_type=reapply_type, reapply_exclude=reapply_exclude)
        finally:
            await client.close()
        _emit(ctx, {"workflow_id": new.id, "run_id": new.run_id, "base_workflow_id": workflow_id},
              lambda: printable(f"Forked {workflow_id} into {new.id} (run {new.run_id})"))


    @cli.group()
    def activity() -> None:
        """Steer a workflow's pending activities."""


    def _target(fn: Any) -> Any:
        fn = click.option("--activity-type", default=None, help="Every pending activity "
                          "of this type (instead of --activity-id).")(fn)
        fn = click.option("--activity-id", "-a", default=None, help="The activity id.")(fn)
        return _workflow_id_option(fn)


    def _print(ctx: click.Context, verb: str, changed: list[dict[str, Any]]) -> None:
        _emit(ctx, changed, lambda: "\n".join(
            printable(f"{verb} activity {c['activity_id']}"
                      + (f" ({c['state']})" if c.get("state") else "")) for c in changed))


    @activity.command("pause")
    @_target
    @click.option("--reason", default="", help="Why (shown with the paused activity).")
    @click.option("--identity", default=None, help="Who pauses it.")
    @click.pass_context
    @_run
    async def pause(ctx: click.Context, workflow_id: str, run_id: str | None,
                    activity_id: str | None, activity_type: str | None, reason: str,
                    identity: str | None) -> None:
        """Pause an activity: not dispatched or retried until unpaused."""
        client = await _client(ctx)
        try:
            changed = await client.get_workflow_handle(workflow_id, run_id=run_id).pause_activity(
                activity_id, activity_type=activity_type, reason=reason, identity=identity)
        finally:
            await client.close()
        _print(ctx, "Paused", changed)


    @activity.command("unpause")
    @_target
    @click.pass_context
    @_run
    async def unpause(ctx: click.Context, workflow_id: str, run_id: str | None,
                      activity_id: str | None, activity_type: str | None) -> None:
        """Let a paused activity run again."""
        client = await _client(ctx)
        try:
            changed = await client.get_workflow_handle(workflow_id, run_id=run_id) \
                .unpause_activity(activity_id, activity_type=activity_type)
        finally:
            await client.close()
        _print(ctx, "Unpaused", changed)


    @activity.command("reset")
    @_target
    @click.option("--keep-paused", is_flag=True, help="A paused activity stays paused.")
    @click.option("--reset-heartbeats", "--clear-heartbeat-details", "reset_heartbeats",
                  is_flag=True, help="Clear its heartbeat details.")
    @click.pass_context
    @_run
    async def reset_activity(ctx: click.Context, workflow_id: str, run_id: str | None,
                             activity_id: str | None, activity_type: str | None,
                             keep_paused: bool, reset_heartbeats: bool) -> None:
        """Start an activity over from attempt 1."""
        client = await _client(ctx)
        try:
            changed = await client.get_workflow_handle(workflow_id, run_id=run_id).reset_activity(
                activity_id, activity_type=activity_type, keep_paused=keep_paused,
                reset_heartbeat=reset_heartbeats)
        finally:
            await client.close()
        _print(ctx, "Reset", changed)


    @activity.command("update-options")
    @_target
    @click.option("--task-queue", default=None)
    @click.option("--schedule-to-close-timeout", type=DURATION, default=None)
    @click.option("--schedule-to-start-timeout", type=DURATION, default=None)
    @click.option("--start-to-close-timeout", type=DURATION, default=None)
    @click.option("--heartbeat-timeout", type=DURATION, default=None)
    @click.option("--retry-initial-interval", type=DURATION, default=None)
    @click.option("--retry-maximum-interval", type=DURATION, default=None)
    @click.option("--retry-backoff-coefficient", type=click.FloatRange(1.0), default=None)
    @click.option("--retry-maximum-attempts", type=click.IntRange(0), default=None,
                  help="0: unlimited; 1: no retries.")
    @click.pass_context
    @_run
    async def update_options(ctx: click.Context, workflow_id: str, run_id: str | None,
                             activity_id: str | None, activity_type: str | None,
                             task_queue: str | None, schedule_to_close_timeout: timedelta | None,
                             schedule_to_start_timeout: timedelta | None,
                             start_to_close_timeout: timedelta | None,
                             heartbeat_timeout: timedelta | None,
                             retry_initial_interval: timedelta | None,
                             retry_maximum_interval: timedelta | None,
                             retry_backoff_coefficient: float | None,
                             retry_maximum_attempts: int | None) -> None:
        """Change an activity's options; only the given ones change."""
        client = await _client(ctx)
        try:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            retry_policy = None
            retry = (retry_initial_interval, retry_maximum_interval, retry_backoff_coefficient,
                     retry_maximum_attempts)
            if any(v is not None for v in retry):
                # Unchanged fields keep the activity's current values.
                current = await _current_retry(handle, activity_id, activity_type)
                retry_policy = RetryPolicy(
                    initial_interval=retry_initial_interval or current.initial_interval,
                    maximum_interval=retry_maximum_interval or current.maximum_interval,
                    backoff_coefficient=retry_backoff_coefficient or current.backoff_coefficient,
                    maximum_attempts=current.maximum_attempts if retry_maximum_attempts is None
                    else retry_maximum_attempts,
                    non_retryable_error_types=current.non_retryable_error_types)
            changed = await handle.update_activity_options(
                activity_id, activity_type=activity_type, task_queue=task_queue,
                schedule_to_close_timeout=schedule_to_close_timeout,
                schedule_to_start_timeout=schedule_to_start_timeout,
                start_to_close_timeout=start_to_close_timeout,
                heartbeat_timeout=heartbeat_timeout, retry_policy=retry_policy)
        finally:
            await client.close()
        _emit(ctx, changed, lambda: "\n".join(
            printable(f"Updated the options of activity {c['activity_id']}") for c in changed))


async def _current_retry(handle: Any, activity_id: str | None,
                         activity_type: str | None) -> RetryPolicy:
    for pending in (await handle.describe()).pending_activities:
        if pending["activity_id"] == activity_id or pending["activity_type"] == activity_type:
            policy = (pending.get("options") or {}).get("retry_policy")
            return RetryPolicy._from_json(policy) if policy else RetryPolicy()
    return RetryPolicy()
