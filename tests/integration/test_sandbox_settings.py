"""temporalio's sandbox settings are accepted as temporalio code writes them, and change
nothing: the workflow runs (and its determinism guard still applies) as without them."""

from __future__ import annotations

import dataclasses
import datetime
import json
import pickle

import pytest

from stalwart import workflow
from stalwart.client import Client
from stalwart.worker import Worker
from stalwart.worker.workflow_sandbox import (
    RestrictedWorkflowAccessError,
    SandboxedWorkflowRunner,
    SandboxMatcher,
    SandboxRestrictions,
)


@workflow.defn
class Encode:
    @workflow.run
    async def run(self, value: dict[str, int]) -> str:
        return json.dumps(value, sort_keys=True)


@workflow.defn
class ReadsTheClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.datetime.now().isoformat()


def _runner() -> SandboxedWorkflowRunner:
    lifted = SandboxRestrictions.invalid_module_members_default.with_child_unrestricted(
        "datetime", "datetime", "now")
    return SandboxedWorkflowRunner(restrictions=dataclasses.replace(
        SandboxRestrictions.default.with_passthrough_modules("json", "pydantic"),
        invalid_module_members=lifted))


async def test_a_sandboxed_runner_runs_the_workflow(client: Client, task_queue: str) -> None:
    runner = _runner()
    assert "json" in runner.restrictions.passthrough_modules
    async with Worker(client, task_queue=task_queue, workflows=[Encode],
                      workflow_runner=runner):
        assert await client.execute_workflow(Encode.run, {"b": 2, "a": 1}, id="encode",
                                             task_queue=task_queue) == '{"a": 1, "b": 2}'


async def test_lifting_a_restriction_does_not_lift_the_determinism_guard(
        client: Client, task_queue: str) -> None:
    with pytest.raises(RestrictedWorkflowAccessError, match=r"datetime\.now\(\)") as caught:
        Worker(client, task_queue=task_queue, workflows=[ReadsTheClock],
               workflow_runner=_runner())
    assert caught.value.qualified_name == "datetime.now"


def test_settings_are_values_as_in_temporalio() -> None:
    nested = SandboxMatcher.nested_child(["a", "b"], SandboxMatcher.all)
    assert nested.children["a"].children["b"] == SandboxMatcher.all
    assert (nested | SandboxMatcher(access=frozenset({"x"}))).access == {"x"}
    restrictions = SandboxRestrictions.default.with_passthrough_all_modules()
    assert restrictions.passthrough_all_modules and not SandboxRestrictions.default \
        .passthrough_all_modules
    error = RestrictedWorkflowAccessError("os.getcwd")
    assert error.qualified_name == "os.getcwd" and "os.getcwd" in str(error)
    copy = pickle.loads(pickle.dumps(RestrictedWorkflowAccessError("x.y", override_message="m")))
    assert (copy.qualified_name, str(copy)) == ("x.y", "m")
    with pytest.raises(TypeError, match="give a SandboxRestrictions"):
        SandboxedWorkflowRunner(restrictions=["json"])  # type: ignore[arg-type]
