"""Serialization contexts: a payload converter that implements WithSerializationContext
records, in each payload's metadata, the context it encoded in, and appends to every string it
decodes both that and the context it decodes in. The strings that come back show which context
the client and the worker gave for workflow input and result, a query, an update, a signal, an
activity's and a local activity's input and result, a child's input and result, and a signal to
an external workflow."""

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    DefaultPayloadConverter,
    PayloadConverter,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.plugin import SimplePlugin

from ._util import settle


def _suffix(workflow_id: str | None) -> str:
    return (workflow_id or "").rsplit("-", 1)[-1]


def _describe(context: SerializationContext | None) -> str:
    if isinstance(context, WorkflowSerializationContext):
        return f"wf:{context.namespace}:{_suffix(context.workflow_id)}"
    if isinstance(context, ActivitySerializationContext):
        return (f"act:{context.namespace}:{context.activity_type}:{context.activity_id}:"
                f"queue={bool(context.activity_task_queue)}:{_suffix(context.workflow_id)}:"
                f"{context.workflow_type}:local={context.is_local}")
    return "none"


def _annotate(value: Any, note: str) -> Any:
    if isinstance(value, str):
        return f"{value} <{note}>"
    if isinstance(value, list):
        return [_annotate(v, note) for v in value]
    if isinstance(value, dict):
        return {k: _annotate(v, note) for k, v in value.items()}
    return value


class ContextRecorder(PayloadConverter, WithSerializationContext):
    def __init__(self, context: SerializationContext | None = None) -> None:
        self._inner = DefaultPayloadConverter()
        self._context = context

    def with_context(self, context: SerializationContext) -> "ContextRecorder":
        return ContextRecorder(context)

    def to_payloads(self, values: Sequence[Any]) -> list[Any]:
        return [type(p)(metadata={**dict(p.metadata), "ctx": _describe(self._context).encode()},
                        data=p.data) for p in self._inner.to_payloads(values)]

    def from_payloads(self, payloads: Sequence[Any],
                      type_hints: list[Any] | None = None) -> list[Any]:
        values = self._inner.from_payloads(payloads, type_hints)
        return [_annotate(v, f"enc {p.metadata.get('ctx', b'').decode()} "
                             f"dec {_describe(self._context)}")
                for p, v in zip(payloads, values, strict=True)]


PLUGINS = [SimplePlugin("context-recorder", data_converter=DataConverter(
    payload_converter_class=ContextRecorder))]


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class Child:
    @workflow.run
    async def run(self, text: str) -> str:
        await workflow.wait_condition(lambda: self.go)
        return f"child got {text}"

    def __init__(self) -> None:
        self.go = False

    @workflow.signal
    def proceed(self, note: str) -> None:
        self.go = True


@workflow.defn
class Parent:
    def __init__(self) -> None:
        self.signalled: str | None = None
        self.updated: str | None = None
        self.released = False

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.run
    async def run(self, text: str) -> dict[str, Any]:
        await workflow.wait_condition(lambda: self.signalled is not None)
        shouted = await workflow.execute_activity(shout, "remote",
                                                  start_to_close_timeout=timedelta(seconds=10))
        local = await workflow.execute_local_activity(shout, "local",
                                                      start_to_close_timeout=timedelta(seconds=10))
        wid = workflow.info().workflow_id
        child = await workflow.start_child_workflow(Child.run, "hello", id=f"{wid}-child")
        # Released by the client once the child's first task ran, so the signal below lands
        # in the same place in the child's history on both servers.
        await workflow.wait_condition(lambda: self.released)
        await workflow.get_external_workflow_handle(f"{wid}-child").signal(Child.proceed, "go")
        return {"input": text, "signal": self.signalled, "update": self.updated,
                "activity": shouted, "local": local, "child": await child}

    @workflow.signal
    def note(self, text: str) -> None:
        self.signalled = text

    @workflow.query
    def peek(self, text: str) -> str:
        return f"peeked {text}"

    @workflow.update
    def remember(self, text: str) -> str:
        self.updated = text
        return f"remembered {text}"


WORKFLOWS = [Parent, Child]
ACTIVITIES = [shout]


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Parent.run, "start", id=f"{task_queue}-wf",
                                         task_queue=task_queue)
    await settle(handle)
    peeked = await handle.query(Parent.peek, "q")
    updated = await handle.execute_update(Parent.remember, "u")
    await settle(handle)
    await handle.signal(Parent.note, "s")
    child = client.get_workflow_handle(f"{task_queue}-wf-child")
    for _ in range(600):
        try:
            events = (await child.fetch_history()).to_json_dict()["events"]
        except Exception:  # not started yet
            events = []
        if any(e["eventType"] == "EVENT_TYPE_WORKFLOW_TASK_COMPLETED" for e in events):
            break
        await asyncio.sleep(0.02)
    await settle(handle)
    await handle.signal(Parent.release)
    return {"query": peeked, "update": updated, "result": await handle.result()}
