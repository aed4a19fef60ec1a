"""The inputs of the workflow outbound interceptor calls carry temporalio's fields, and what an
interceptor changes in them is what the call does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.common import (
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)
from stalwart.exceptions import ActivityError, ApplicationError
from stalwart.worker import (
    Interceptor,
    SignalChildWorkflowInput,
    SignalExternalWorkflowInput,
    StartActivityInput,
    StartChildWorkflowInput,
    StartLocalActivityInput,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

CUSTOMER = SearchAttributeKey.for_keyword("CustomerId")
seen_inputs: list[dict[str, Any]] = []
attempts: dict[str, int] = {}


@dataclass
class Greeting:
    text: str


@activity.defn
def flaky(key: str, fail_times: int) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] <= fail_times:
        raise ApplicationError(f"attempt {attempts[key]} fails")
    return f"{key} after {attempts[key]}"


@activity.defn
def greet(name: str) -> dict[str, str]:
    return {"text": f"hello {name}"}


class Outbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> Any:
        seen_inputs.append({"call": "activity", "activity": input.activity,
                     "arg_types": input.arg_types, "ret_type": input.ret_type,
                     "eager_off": input.disable_eager_execution,
                     "groups": [repr(g) for g in input.event_groups or ()]})
        if input.activity == "flaky":
            # The workflow allows one attempt; the interceptor's policy is what applies.
            input.retry_policy = RetryPolicy(initial_interval=timedelta(milliseconds=10),
                                             maximum_attempts=3)
        if input.activity == "greet":
            input.ret_type = Greeting  # the result is decoded as what the interceptor says
        return self.next.start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> Any:
        seen_inputs.append({"call": "local", "threshold": input.local_retry_threshold,
                     "arg_types": input.arg_types})
        return self.next.start_local_activity(input)

    async def start_child_workflow(self, input: StartChildWorkflowInput) -> Any:
        seen_inputs.append({"call": "child", "workflow": input.workflow,
                     "arg_types": input.arg_types, "ret_type": input.ret_type,
                     "memo": dict(input.memo or {}),
                     "retry": input.retry_policy.maximum_attempts if input.retry_policy
                     else None, "summary": input.static_summary})
        input.memo = {**(input.memo or {}), "stamped": "by interceptor"}
        input.search_attributes = TypedSearchAttributes([SearchAttributePair(CUSTOMER, "c-7")])
        input.static_details = "details from the interceptor"
        input.retry_policy = RetryPolicy(maximum_attempts=5)
        return await self.next.start_child_workflow(input)

    async def signal_child_workflow(self, input: SignalChildWorkflowInput) -> None:
        seen_inputs.append({"call": "signal child", "groups": len(input.event_groups or ())})
        await self.next.signal_child_workflow(input)

    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
        seen_inputs.append({"call": "signal external", "groups": len(input.event_groups or ())})
        await self.next.signal_external_workflow(input)


class Inbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(Outbound(outbound))


class Watch(Interceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor]:
        return Inbound


@workflow.defn
class Child:
    def __init__(self) -> None:
        self.poked = 0

    @workflow.signal
    def poke(self) -> None:
        self.poked += 1

    @workflow.run
    async def run(self, label: str) -> dict[str, Any]:
        await workflow.wait_condition(lambda: self.poked == 2)
        info = workflow.info()
        return {"label": label, "memo": workflow.memo(),
                "customer": info.typed_search_attributes.get(CUSTOMER),
                "retry": info.retry_policy.maximum_attempts if info.retry_policy else None}


@workflow.defn
class Parent:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        once = RetryPolicy(maximum_attempts=1)
        flaky_result = await workflow.execute_activity(
            flaky, args=["k", 2], start_to_close_timeout=timedelta(seconds=10),
            retry_policy=once)
        group = workflow.create_event_group("greetings", label="greetings")
        greeting = await workflow.execute_activity(
            greet, "ann", start_to_close_timeout=timedelta(seconds=10), event_groups=[group])
        local = await workflow.execute_local_activity(
            greet, "bob", start_to_close_timeout=timedelta(seconds=10),
            local_retry_threshold=timedelta(seconds=30))
        child = await workflow.start_child_workflow(
            Child.run, "kid", id=f"{workflow.info().workflow_id}-child",
            memo={"given": "by parent"}, retry_policy=RetryPolicy(maximum_attempts=2),
            static_summary="a child")
        await child.signal(Child.poke, event_groups=[group])
        await workflow.get_external_workflow_handle(child.id).signal(Child.poke)
        return {"flaky": flaky_result, "greeting": isinstance(greeting, Greeting),
                "local": local, "child": await child}


async def test_interceptors_change_what_activities_and_children_get(
        client: Client, task_queue: str) -> None:
    seen_inputs.clear()
    attempts.clear()
    async with Worker(client, task_queue=task_queue, workflows=[Parent, Child],
                      activities=[flaky, greet], interceptors=[Watch()]):
        result = await client.execute_workflow(Parent.run, id="parent", task_queue=task_queue)
        child = await client.get_workflow_handle("parent-child").describe()
    assert result == {
        "flaky": "k after 3", "greeting": True, "local": {"text": "hello bob"},
        "child": {"label": "kid", "memo": {"given": "by parent", "stamped": "by interceptor"},
                  "customer": "c-7", "retry": 5}}
    assert child.typed_search_attributes.get(CUSTOMER) == "c-7"
    assert await child.static_summary() == "a child"
    assert await child.static_details() == "details from the interceptor"
    assert seen_inputs == [
        {"call": "activity", "activity": "flaky", "arg_types": [str, int], "ret_type": str,
         "eager_off": False, "groups": []},
        {"call": "activity", "activity": "greet", "arg_types": [str],
         "ret_type": dict[str, str], "eager_off": False,
         "groups": ["EventGroup(id='greetings', label='greetings')"]},
        {"call": "local", "threshold": timedelta(seconds=30), "arg_types": [str]},
        {"call": "child", "workflow": "Child", "arg_types": [str], "ret_type": dict[str, Any],
         "memo": {"given": "by parent"}, "retry": 2, "summary": "a child"},
        {"call": "signal child", "groups": 1},
        {"call": "signal external", "groups": 0},
    ]


class BadGroups(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> Any:
        input.event_groups = ["not a group"]
        return self.next.start_activity(input)


class BadGroupsInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(BadGroups(outbound))


class BadGroupsInterceptor(Interceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor]:
        return BadGroupsInbound


@workflow.defn(failure_exception_types=[TypeError])
class Greets:
    @workflow.run
    async def run(self) -> Any:
        return await workflow.execute_activity(greet, "x",
                                               start_to_close_timeout=timedelta(seconds=5))


async def test_event_groups_an_interceptor_sets_are_checked(client: Client,
                                                            task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Greets], activities=[greet],
                      interceptors=[BadGroupsInterceptor()]):
        handle = await client.start_workflow(Greets.run, id="bad-groups",
                                             task_queue=task_queue)
        with pytest.raises(Exception) as raised:
            await handle.result()
    assert "create_event_group" in str(raised.value.__cause__)


@workflow.defn
class FailsOnce:
    @workflow.run
    async def run(self) -> str:
        try:
            return str(await workflow.execute_activity(
                flaky, args=["once", 1], start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1)))
        except ActivityError as error:
            return f"failed: {error.cause}"


async def test_without_the_interceptor_the_workflows_policy_applies(
        client: Client, task_queue: str) -> None:
    attempts.clear()
    async with Worker(client, task_queue=task_queue, workflows=[FailsOnce],
                      activities=[flaky]):
        result = await client.execute_workflow(FailsOnce.run, id="fails-once",
                                               task_queue=task_queue)
    assert result == "failed: attempt 1 fails"
    assert attempts == {"once": 1}


@workflow.defn
class BadChildMemo:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.start_child_workflow(Child.run, "kid", memo={"bad": object()})
        except TypeError as error:
            return str(error)
        return "started"


async def test_a_child_memo_that_cannot_be_converted_is_refused_at_the_call(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[BadChildMemo, Child]):
        message = await client.execute_workflow(BadChildMemo.run, id="bad-child-memo",
                                                task_queue=task_queue)
        history = await client.get_workflow_handle("bad-child-memo").fetch_history()
    assert message.startswith("start_child_workflow('Child'): ")
    assert "StartChildWorkflowExecutionInitiated" not in [e.event_type for e in history.events]
