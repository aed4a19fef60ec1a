"""One side of a differential run, in its own process and virtualenv.

``python -m tests.differential.side temporal SCENARIO ADDRESS OUT_JSON [FIXTURE_DIR]`` runs the
scenario on a Temporal server with ``temporalio`` (in ``.venv-compat``);
``python -m tests.differential.side stalwart SCENARIO STORE_URL OUT_JSON EXPORT_DIR`` runs it
on Stalwart (in ``.venv``) after the import swap, ``temporalio`` → ``stalwart``;
``python -m tests.differential.side temporal-replay SCENARIO EXPORT_DIR OUT_JSON`` replays
Stalwart's exports with ``temporalio``'s own ``Replayer``.

The observation written to OUT_JSON: what ``run()`` returned or raised, and for every run the
scenario started (directly, as a child, or by continue-as-new) its event types.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
import traceback
import types
import uuid
from pathlib import Path
from typing import Any

from . import attributes

SCENARIOS = "tests.differential.scenarios"


class _SwapFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import temporalio.x`` give ``stalwart.x``: the import swap a user makes."""

    def find_spec(self, fullname: str, path: Any, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "temporalio" or fullname.startswith("temporalio."):
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return importlib.import_module("stalwart" + spec.name.removeprefix("temporalio"))

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install_import_swap() -> None:
    if not any(isinstance(f, _SwapFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SwapFinder())


def load_scenario(name: str) -> types.ModuleType:
    return importlib.import_module(f"{SCENARIOS}.{name}")


def normalise(value: Any, task_queue: str) -> Any:
    """Workflow ids derive from the task queue, which differs per run: make them comparable."""
    if isinstance(value, str):
        return value.replace(task_queue, "<tq>")
    if isinstance(value, dict):
        return {normalise(k, task_queue): normalise(v, task_queue) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v, task_queue) for v in value]
    return value


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))


async def _run_side(side: str, scenario: types.ModuleType, target: str,
                    export_dir: Path | None, fixture_dir: Path | None) -> dict[str, Any]:
    from temporalio import client as client_module
    from temporalio import worker as worker_module

    started: list[tuple[str, str]] = []

    class Recorder(client_module.Interceptor):  # type: ignore[misc]
        def intercept_client(self, next: Any) -> Any:
            class Outbound(client_module.OutboundInterceptor):  # type: ignore[misc]
                async def start_workflow(self, input: Any) -> Any:
                    handle = await super().start_workflow(input)
                    started.append((handle.id, handle.first_execution_run_id
                                    or handle.result_run_id or ""))
                    return handle

                async def start_update_with_start_workflow(self, input: Any) -> Any:
                    # The run is followed by its workflow id (the latest run), unless the
                    # call was refused before anything started.
                    workflow_id = input.start_workflow_input.id
                    try:
                        handle = await super().start_update_with_start_workflow(input)
                    except (ValueError, TypeError):
                        raise
                    except Exception as error:
                        # An RPC error over an invalid argument started nothing either.
                        if type(error).__name__ != "RPCError" or \
                                getattr(error, "status", None) != 3:  # INVALID_ARGUMENT
                            started.append((workflow_id, ""))
                        raise
                    started.append((workflow_id, ""))
                    return handle
            return Outbound(next)

    client = await client_module.Client.connect(target, interceptors=[Recorder()],
                                                plugins=list(getattr(scenario, "PLUGINS", [])))
    task_queue = f"{scenario.__name__.rsplit('.', 1)[-1]}-{uuid.uuid4().hex[:8]}"
    worker_kwargs: dict[str, Any] = {
        "task_queue": task_queue, "workflows": list(getattr(scenario, "WORKFLOWS", [])),
        "activities": list(getattr(scenario, "ACTIVITIES", [])),
        "activity_executor": concurrent.futures.ThreadPoolExecutor(8)}
    if side == "temporal":
        worker_kwargs["workflow_runner"] = worker_module.UnsandboxedWorkflowRunner()
    observation: dict[str, Any] = {"result": None, "error": None}
    async with worker_module.Worker(client, **worker_kwargs):
        try:
            result = await asyncio.wait_for(scenario.run(client, task_queue), 60)
            observation["result"] = _json_safe(result)
        except Exception as error:  # the scenario's escaping error is part of what we compare
            observation["error"] = {"type": type(error).__name__, "message": str(error)}
            observation["traceback"] = traceback.format_exc()
        observation["runs"] = await _collect_runs(side, client, started, task_queue,
                                                  export_dir, fixture_dir, target)
    return normalise(observation, task_queue)


async def _collect_runs(side: str, client: Any, started: list[tuple[str, str]],
                        task_queue: str, export_dir: Path | None, fixture_dir: Path | None,
                        target: str) -> list[dict[str, Any]]:
    """Every run the scenario started, children, continue-as-new runs and retries included."""
    queue = list(started)
    seen: set[tuple[str, str]] = set()
    runs = []
    while queue:
        workflow_id, run_id = queue.pop(0)
        if (workflow_id, run_id) in seen:
            continue
        seen.add((workflow_id, run_id))
        handle = client.get_workflow_handle(workflow_id, run_id=run_id or None)
        history = await _settled_history(handle)
        events = _events_json(history)
        types_ = [_type_name(e["eventType"]) for e in events]
        label = f"{workflow_id}#{len([r for r in runs if r['workflow_id'] == workflow_id])}"
        runs.append({"workflow_id": workflow_id, "label": label, "event_types": types_,
                     "event_names": [_event_name(e) for e in events],
                     "attributes": attributes.view(events)})
        safe_label = label.replace(task_queue, "tq").replace("/", "_")
        if export_dir is not None:
            export_dir.mkdir(parents=True, exist_ok=True)
            (export_dir / f"{safe_label}.json").write_text(history.to_json())
            (export_dir / f"{safe_label}.id").write_text(workflow_id)
        if fixture_dir is not None:
            fixture_dir.mkdir(parents=True, exist_ok=True)
            (fixture_dir / f"{safe_label}.json").write_text(
                _cli_show(target, workflow_id, events))
        for event in events:
            attrs = next((v for k, v in event.items() if k.endswith("EventAttributes")), {})
            if event["eventType"].endswith("CHILD_WORKFLOW_EXECUTION_STARTED"):
                execution = attrs.get("workflowExecution", {})
                queue.append((execution.get("workflowId", ""), execution.get("runId", "")))
            if event["eventType"].endswith("WORKFLOW_EXECUTION_CONTINUED_AS_NEW") or (
                    attrs.get("retryState") == "RETRY_STATE_IN_PROGRESS"
                    and attrs.get("newExecutionRunId")):
                # A continue-as-new's next run, or a failed or timed-out run's retry.
                queue.append((workflow_id, attrs.get("newExecutionRunId", "")))
    return runs


async def _settled_history(handle: Any) -> Any:
    """The run's history once it is closed, or as it is after a moment if it stays open."""
    for _ in range(50):
        history = await handle.fetch_history()
        last = _type_name(_events_json(history)[-1]["eventType"]) if history.events else ""
        if last.startswith("WorkflowExecution") and last in _CLOSE_TYPES:
            return history
        await asyncio.sleep(0.1)
    return history


_CLOSE_TYPES = {"WorkflowExecutionCompleted", "WorkflowExecutionFailed",
                "WorkflowExecutionCanceled", "WorkflowExecutionTerminated",
                "WorkflowExecutionTimedOut", "WorkflowExecutionContinuedAsNew"}


def _events_json(history: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = history.to_json_dict()["events"]
    return events


# What names an event's subject, by the attribute that holds it: compared besides the types,
# so that an activity, child, signal, update or marker of another name is a difference too.
_NAME_PATHS = {
    "ActivityTaskScheduled": ("activityType", "name"),
    "StartChildWorkflowExecutionInitiated": ("workflowType", "name"),
    "WorkflowExecutionSignaled": ("signalName",),
    "SignalExternalWorkflowExecutionInitiated": ("signalName",),
    "MarkerRecorded": ("markerName",),
    "WorkflowExecutionUpdateAccepted": ("acceptedRequest", "input", "name"),
    "WorkflowExecutionUpdateAdmitted": ("request", "input", "name"),
    "WorkflowExecutionStarted": ("workflowType", "name"),
    "WorkflowExecutionContinuedAsNew": ("workflowType", "name"),
}


def _event_name(event: dict[str, Any]) -> str:
    type_ = _type_name(event["eventType"])
    value: Any = next((v for k, v in event.items() if k.endswith("EventAttributes")), {})
    for key in _NAME_PATHS.get(type_, ()):
        value = value.get(key, {}) if isinstance(value, dict) else {}
    return f"{type_}({value})" if isinstance(value, str) else type_


def _type_name(enum_name: str) -> str:
    body = enum_name.removeprefix("EVENT_TYPE_").lower()
    return "".join(part.capitalize() for part in body.split("_"))


def _cli_show(address: str, workflow_id: str, events: list[dict[str, Any]]) -> str:
    """The run's history exactly as ``temporal workflow show --output json`` writes it."""
    run_id = events[0]["workflowExecutionStartedEventAttributes"]["originalExecutionRunId"]
    cli = Path(sys.executable).parent / "temporal"
    shown = subprocess.run(
        [str(cli), "workflow", "show", "--address", address, "--workflow-id", workflow_id,
         "--run-id", run_id, "--output", "json"], check=True, capture_output=True, text=True)
    return json.dumps(_without_paths(json.loads(shown.stdout)), indent=2) + "\n"


_FRAME_PATH = re.compile(r'File "(?:[^"]*/)?([^"/]+)"')


def _without_paths(value: Any) -> Any:
    """Stack traces name the recording machine's directories; keep only the file names."""
    if isinstance(value, dict):
        return {k: _FRAME_PATH.sub(r'File "\1"', v) if k == "stackTrace" and isinstance(v, str)
                else _without_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_paths(v) for v in value]
    return value


async def _replay_exports(scenario: types.ModuleType, export_dir: Path) -> dict[str, Any]:
    from temporalio.client import WorkflowHistory
    from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

    # Unsandboxed, as the scenario ran on Temporal's worker: temporalio's sandbox re-imports
    # the scenario module with its restricted ``datetime``, and its converter then refuses
    # a dataclass field hinted ``datetime`` (workflow_failures_and_results) when replaying
    # Temporal's own recorded history just as when replaying Stalwart's.
    replayer = Replayer(workflows=list(getattr(scenario, "WORKFLOWS", [])),
                        workflow_runner=UnsandboxedWorkflowRunner(),
                        plugins=list(getattr(scenario, "PLUGINS", [])))
    outcome: dict[str, Any] = {}
    for path in sorted(export_dir.glob("*.json")):
        try:
            workflow_id = path.with_suffix(".id").read_text()
            history = WorkflowHistory.from_json(workflow_id, path.read_text())
            await replayer.replay_workflow(history)
            outcome[path.stem] = "ok"
        except Exception as error:
            outcome[path.stem] = f"{type(error).__name__}: {error}"[:2000]
    return outcome


def main(argv: list[str]) -> int:
    side, name = argv[0], argv[1]
    if side == "stalwart":
        install_import_swap()
    scenario = load_scenario(name)
    if side == "temporal-replay":
        result = asyncio.run(_replay_exports(scenario, Path(argv[2])))
        Path(argv[3]).write_text(json.dumps(result))
        return 0
    target, out = argv[2], Path(argv[3])
    extra = Path(argv[4]) if len(argv) > 4 and argv[4] else None
    observation = asyncio.run(_run_side(
        side, scenario, target, export_dir=extra if side == "stalwart" else None,
        fixture_dir=extra if side == "temporal" else None))
    out.write_text(json.dumps(observation, indent=1))
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalisation: temporalio's Rust bridge threads can abort the process
    # while Python shuts down, after the observation is safely written.
    os._exit(code)
