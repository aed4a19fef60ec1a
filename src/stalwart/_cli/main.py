"""The ``stalwart`` command: inspect and steer workflows in a store from a terminal.

Every command takes the store URL from ``--url`` or ``STALWART_URL`` (default: ``stalwart.db``
in the working directory), prints readable tables, and prints JSON with ``--output json``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import exceptions as exc
from .._history_events import public_events
from .._model import limits
from .._model.temporal_history import to_temporal
from .._store.base import ExecutionStatus
from ..client import Client, WorkflowExecutionDescription, WorkflowHistory
from . import steering as _steering
from .db import db as db_group
from .inbox import inbox as inbox_group
from .server import server as server_group

T = TypeVar("T")

_STATUS_NAMES = {s.name.lower(): s for s in ExecutionStatus}
# Ten years: beyond any real timeout, well inside what timedelta and the stores hold.
MAX_SECONDS = 10 * 365 * 24 * 3600.0
MAX_LIMIT = 10_000


class Seconds(click.ParamType):
    """A finite, positive number of seconds, at most ten years."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{limits.shorten(value)} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or not 0 < seconds <= MAX_SECONDS:
            self.fail(f"{limits.shorten(value)} must be a finite number of seconds above 0 and "
                      f"at most {MAX_SECONDS:.0f} (ten years)", param, ctx)
        return seconds


SECONDS = Seconds()
LIMIT = click.IntRange(1, MAX_LIMIT)


def _run(coro_fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    @wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return asyncio.run(coro_fn(*args, **kwargs))
        except (exc.StalwartError, ValueError, TypeError) as error:
            raise click.ClickException(printable(str(error))) from error
        except OverflowError as error:
            raise click.ClickException(f"a number is out of range: {error}") from error
        except RecursionError:
            raise click.ClickException(
                f"a value is nested too deeply (the limit is {limits.MAX_PAYLOAD_DEPTH} "
                "levels)") from None

    return wrapper


def printable(text: str) -> str:
    """``text`` with control characters (newlines, escape sequences, bidi overrides) written
    as escapes, so a stored id cannot move the cursor or rewrite what the terminal shows."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _echo(text: str) -> None:
    """Prints lines built here (values in them already went through ``printable``)."""
    click.echo("\n".join(printable(line) for line in text.split("\n")))


async def _client(ctx: click.Context) -> Client:
    return await Client.connect(ctx.obj["url"])


def _json_args(values: Sequence[str]) -> list[Any]:
    out = []
    for index, value in enumerate(values):
        try:
            out.append(limits.check_json_text(f"--input #{index + 1}", value))
        except ValueError as error:
            raise click.BadParameter(
                f"{error}: {limits.shorten(value)}; strings need quotes, e.g. "
                "--input '\"hello\"'", param_hint="--input") from None
    return out


def _ts(value: datetime | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float | int):
        value = datetime.fromtimestamp(value, UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [{c: printable(str(r.get(c, ""))) for c in columns} for r in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    for row in cells:
        lines.append("  ".join(row[c].ljust(widths[c]) for c in columns))
    return "\n".join(lines)


def _emit(ctx: click.Context, data: Any, table: Callable[[], str]) -> None:
    if ctx.obj["output"] == "json":
        click.echo(limits.dumps_strict(data, indent=2, default=str))
    else:
        _echo(table())


@click.group()
@click.option("--url", envvar="STALWART_URL", default=None,
              help="Store URL, e.g. sqlite:///path/to/stalwart.db (env: STALWART_URL).")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table",
              help="Readable tables (default) or JSON for scripts.")
@click.version_option(package_name="stalwart")
@click.pass_context
def cli(ctx: click.Context, url: str | None, output: str) -> None:
    """Stalwart: durable execution for AI agents."""
    ctx.ensure_object(dict)
    ctx.obj.update(url=url, output=output)


@cli.group()
def workflow() -> None:
    """Start, inspect and steer workflows."""


def _workflow_id_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--run-id", "-r", default=None, help="A specific run (default: latest).")(fn)
    return click.option("--workflow-id", "-w", required=True, help="The workflow id.")(fn)


@workflow.command("start")
@click.option("--type", "workflow_type", required=True, help="Workflow type name.")
@click.option("--task-queue", "-t", required=True, help="Task queue the workers poll.")
@click.option("--workflow-id", "-w", required=True, help="Id for the new workflow.")
@click.option("--input", "-i", "inputs", multiple=True, help="JSON argument (repeatable).")
@click.option("--execution-timeout", type=SECONDS, default=None, help="Seconds.")
@click.pass_context
@_run
async def start(ctx: click.Context, workflow_type: str, task_queue: str, workflow_id: str,
                inputs: tuple[str, ...], execution_timeout: float | None) -> None:
    """Start a workflow by type name."""
    client = await _client(ctx)
    try:
        handle = await client.start_workflow(
            workflow_type, args=_json_args(inputs), id=workflow_id, task_queue=task_queue,
            execution_timeout=timedelta(seconds=execution_timeout)
            if execution_timeout else None)
    finally:
        await client.close()
    _emit(ctx, {"workflow_id": handle.id, "run_id": handle.result_run_id},
          lambda: printable(f"Started workflow {handle.id} (run {handle.result_run_id})"))


@workflow.command("list")
@click.option("--status", type=click.Choice(sorted(_STATUS_NAMES)), default=None)
@click.option("--type", "workflow_type", default=None, help="Only this workflow type.")
@click.option("--prefix", default=None, help="Only workflow ids starting with this.")
@click.option("--task-queue", default=None)
@click.option("--limit", type=LIMIT, default=50, show_default=True)
@click.pass_context
@_run
async def list_workflows(ctx: click.Context, status: str | None, workflow_type: str | None,
                         prefix: str | None, task_queue: str | None, limit: int) -> None:
    """List workflow runs, newest first."""
    client = await _client(ctx)
    try:
        rows = await client.store.list_executions(
            status=int(_STATUS_NAMES[status]) if status else None, workflow_type=workflow_type,
            workflow_id_prefix=prefix, task_queue=task_queue, limit=limit)
        # Temporal's event count, as fetch_history() and describe show it.
        lengths = [await client._history_lengths.of(r.run_id, r.status, r.history_length)
                   for r in rows]
    finally:
        await client.close()
    data = [{"workflow_id": r.workflow_id, "run_id": r.run_id, "type": r.workflow_type,
             "status": r.status.name, "task_queue": r.task_queue,
             "start_time": _ts(r.start_time), "close_time": _ts(r.close_time),
             "history_length": length} for r, length in zip(rows, lengths, strict=True)]
    _emit(ctx, data, lambda: _table(data, ["workflow_id", "type", "status", "start_time",
                                           "close_time", "history_length"]))


def _description_dict(d: WorkflowExecutionDescription) -> dict[str, Any]:
    return {"workflow_id": d.id, "run_id": d.run_id, "type": d.workflow_type,
            "status": d.status.name, "task_queue": d.task_queue,
            "start_time": _ts(d.start_time), "close_time": _ts(d.close_time),
            "history_length": d.history_length, "pending_events": d.pending_events,
            "continued_as_new_run_id": d.continued_as_new_run_id,
            **{k: v for k, v in (("reset_from_run_id", d.base_run_id),
                                 ("reset_from_workflow_id", d.base_workflow_id),
                                 ("reset_to_run_id", d.reset_run_id)) if v},
            "pending_activities": d.pending_activities}


@workflow.command("describe")
@_workflow_id_option
@click.pass_context
@_run
async def describe(ctx: click.Context, workflow_id: str, run_id: str | None) -> None:
    """Status, times and pending activities of a workflow."""
    client = await _client(ctx)
    try:
        description = await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
    finally:
        await client.close()
    data = _description_dict(description)

    def table() -> str:
        lines = [f"{k:>24}: {printable(str(v))}" for k, v in data.items()
                 if k != "pending_activities"]
        for activity in data["pending_activities"]:
            failure = (activity.get("last_failure") or {}).get("message", "")
            lines.append(printable(f"{'pending activity':>24}: #{activity['seq']} "
                                   f"{activity['activity_type']} attempt "
                                   f"{activity['attempt']} {activity['state']}"
                                   + (f" (last failure: {failure})" if failure else "")))
        return "\n".join(lines)

    _emit(ctx, data, table)


def _event_summary(attributes: dict[str, Any]) -> str:
    """The few attributes that say what an event is about (Temporal's field names)."""
    parts = []
    for key in ("activityType", "workflowType"):
        if isinstance(attributes.get(key), dict):
            parts.append(f"{key}={attributes[key].get('name', '')}")
    for key in ("activityId", "timerId", "signalName", "startToFireTimeout", "markerName",
                "reason", "scheduledEventId", "startedEventId", "initiatedEventId"):
        if attributes.get(key) not in (None, ""):
            parts.append(f"{key}={attributes[key]}")
    request = attributes.get("acceptedRequest")
    if isinstance(request, dict):
        parts.append(f"update={request.get('input', {}).get('name', '')}")
    failure = attributes.get("failure")
    if isinstance(failure, dict):
        parts.append(f"failure={failure.get('message', '')!r}")
    return " ".join(parts)


@workflow.command("show")
@_workflow_id_option
@click.pass_context
@_run
async def show(ctx: click.Context, workflow_id: str, run_id: str | None) -> None:
    """The event history of a workflow run."""
    client = await _client(ctx)
    try:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    finally:
        await client.close()
    if ctx.obj["output"] == "json":
        click.echo(history.to_json())
        return
    rows = [{"id": e.event_id, "time": _ts(e.timestamp), "type": e.event_type,
             "details": _event_summary(e.attributes)} for e in history.events]
    _echo(_table(rows, ["id", "time", "type", "details"]))


@workflow.command("result")
@_workflow_id_option
@click.option("--timeout", type=SECONDS, default=None,
              help="Give up after this many seconds.")
@click.pass_context
@_run
async def result(ctx: click.Context, workflow_id: str, run_id: str | None,
                 timeout: float | None) -> None:
    """Wait for a workflow's result and print it as JSON."""
    client = await _client(ctx)
    try:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        try:
            value = await asyncio.wait_for(handle.result(), timeout)
        except TimeoutError:
            raise click.ClickException(f"workflow {workflow_id} did not finish within "
                                       f"{timeout} s") from None
        except exc.WorkflowFailureError as error:
            raise click.ClickException(printable(f"workflow {workflow_id} failed: "
                                                 f"{error.cause}")) from None
    finally:
        await client.close()
    click.echo(limits.dumps_strict(value, default=str))


@workflow.command("signal")
@_workflow_id_option
@click.option("--name", required=True, help="Signal name.")
@click.option("--input", "-i", "inputs", multiple=True, help="JSON argument (repeatable).")
@click.pass_context
@_run
async def signal(ctx: click.Context, workflow_id: str, run_id: str | None, name: str,
                 inputs: tuple[str, ...]) -> None:
    """Send a signal (kept until a worker delivers it)."""
    client = await _client(ctx)
    try:
        await client.get_workflow_handle(workflow_id, run_id=run_id).signal(
            name, args=_json_args(inputs))
    finally:
        await client.close()
    _emit(ctx, {"signaled": workflow_id, "signal": name},
          lambda: printable(f"Signal {name!r} sent to {workflow_id}"))


@workflow.command("query")
@_workflow_id_option
@click.option("--name", required=True, help="Query name.")
@click.option("--input", "-i", "inputs", multiple=True, help="JSON argument (repeatable).")
@click.option("--timeout", type=SECONDS, default=10.0, show_default=True)
@click.pass_context
@_run
async def query(ctx: click.Context, workflow_id: str, run_id: str | None, name: str,
                inputs: tuple[str, ...], timeout: float) -> None:
    """Ask a running worker to answer a query."""
    client = await _client(ctx)
    try:
        value = await client.get_workflow_handle(workflow_id, run_id=run_id).query(
            name, args=_json_args(inputs), rpc_timeout=timedelta(seconds=timeout))
    finally:
        await client.close()
    click.echo(limits.dumps_strict(value, default=str))


@workflow.command("cancel")
@_workflow_id_option
@click.pass_context
@_run
async def cancel(ctx: click.Context, workflow_id: str, run_id: str | None) -> None:
    """Request cancellation (the workflow may clean up)."""
    client = await _client(ctx)
    try:
        await client.get_workflow_handle(workflow_id, run_id=run_id).cancel()
    finally:
        await client.close()
    _emit(ctx, {"cancel_requested": workflow_id},
          lambda: printable(f"Cancellation requested for {workflow_id}"))


@workflow.command("terminate")
@_workflow_id_option
@click.option("--reason", default="terminated from the CLI", show_default=True)
@click.pass_context
@_run
async def terminate(ctx: click.Context, workflow_id: str, run_id: str | None,
                    reason: str) -> None:
    """Stop a workflow at once, with no cleanup."""
    client = await _client(ctx)
    try:
        await client.get_workflow_handle(workflow_id, run_id=run_id).terminate(reason=reason)
    finally:
        await client.close()
    _emit(ctx, {"terminated": workflow_id}, lambda: printable(f"Terminated {workflow_id}"))


def _load_workflows(specs: Sequence[str]) -> list[type]:
    classes = []
    for spec in specs:
        module_name, _, attribute = spec.partition(":")
        if not attribute:
            raise click.BadParameter(f"{spec!r} must look like package.module:WorkflowClass",
                                     param_hint="--workflows")
        sys.path.insert(0, ".")
        try:
            module = importlib.import_module(module_name)
        except Exception as error:
            raise click.BadParameter(f"cannot import {module_name!r}: {error}",
                                     param_hint="--workflows") from None
        if not hasattr(module, attribute):
            raise click.BadParameter(f"module {module_name!r} has no {attribute!r}",
                                     param_hint="--workflows")
        classes.append(getattr(module, attribute))
    return classes


@workflow.command("replay")
@click.argument("history_files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--workflows", "-W", "workflow_specs", multiple=True, required=True,
              help="module:WorkflowClass of the code to check (repeatable).")
@click.option("--workflow-id", "-w", default=None, help="Replay only this workflow.")
@click.option("--type", "workflow_type", default=None,
              help="Replay stored histories of this workflow type.")
@click.option("--limit", type=LIMIT, default=100, show_default=True)
@click.pass_context
def replay(ctx: click.Context, history_files: tuple[str, ...], workflow_specs: tuple[str, ...],
           workflow_id: str | None, workflow_type: str | None, limit: int) -> None:
    """Replay histories against (new) workflow code: the check to run before deploying.

    With HISTORY_FILES, replays those exported histories (Temporal's JSON, as `temporal
    workflow show --output json` or `stalwart workflow show --output json` write it);
    otherwise the stored histories. Exits 1 if any history no longer replays."""
    from ..worker import Replayer

    replayer = Replayer(workflows=_load_workflows(workflow_specs))
    if history_files:
        _replay_files(ctx, replayer, history_files)
    else:
        _replay(ctx, replayer, workflow_id, workflow_type, limit)


def _history_from_file(path: str) -> WorkflowHistory:
    text = Path(path).read_text()
    try:
        data = json.loads(text)
        started = data["events"][0]["workflowExecutionStartedEventAttributes"]
        workflow_id = str(started.get("workflowId") or Path(path).stem)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        workflow_id = Path(path).stem  # from_json below says what is wrong with the file
    try:
        return WorkflowHistory.from_json(workflow_id, text)
    except ValueError as error:
        raise click.ClickException(f"{path}: {error}") from None


@_run
async def _replay_files(ctx: click.Context, replayer: Any, paths: tuple[str, ...]) -> None:
    results = []
    for path in paths:
        history = _history_from_file(path)
        outcome = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        results.append({"file": path, "workflow_id": history.workflow_id,
                        "run_id": history.run_id, "ok": outcome.replay_failure is None,
                        "error": str(outcome.replay_failure or "")})
    _report_replays(ctx, results)


@_run
async def _replay(ctx: click.Context, replayer: Any, workflow_id: str | None,
                  workflow_type: str | None, limit: int) -> None:
    client = await _client(ctx)
    try:
        if workflow_id:
            rows = [r for r in await client.store.list_executions(
                workflow_id_prefix=workflow_id, limit=limit) if r.workflow_id == workflow_id]
        else:
            rows = await client.store.list_executions(workflow_type=workflow_type, limit=limit)
        results = []
        for row in rows:
            events = await client.store.get_history(row.run_id)
            history = WorkflowHistory(row.workflow_id, public_events(
                to_temporal(events, run_id=row.run_id)), row.run_id)
            outcome = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            results.append({"workflow_id": row.workflow_id, "run_id": row.run_id,
                            "ok": outcome.replay_failure is None,
                            "error": str(outcome.replay_failure or "")})
    finally:
        await client.close()
    _report_replays(ctx, results)


def _report_replays(ctx: click.Context, results: list[dict[str, Any]]) -> None:
    _emit(ctx, results, lambda: "\n".join(
        f"{'ok  ' if r['ok'] else 'FAIL'} {printable(str(r['workflow_id']))} {r['run_id']}"
        + (f"\n     {printable(str(r['error']))}" if r["error"] else "") for r in results)
        or "no histories matched")
    if not all(r["ok"] for r in results):
        ctx.exit(1)


cli.add_command(server_group)
cli.add_command(db_group)
cli.add_command(inbox_group)
# ``workflow reset|fork`` and the ``activity`` group.
_steering.register(sys.modules[__name__])


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
