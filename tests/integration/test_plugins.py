"""Plugins as temporalio shapes them: client plugins configure the client and wrap opening the
store; worker plugins configure workers and replayers and wrap their runs; a client plugin that
is also a worker plugin reaches every worker built from the client."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from stalwart import activity, workflow
from stalwart._store.base import Store
from stalwart.client import Client, ClientConfig, ConnectConfig
from stalwart.client import Plugin as ClientPlugin
from stalwart.contrib.pydantic import PydanticPayloadConverter
from stalwart.converter import DataConverter
from stalwart.exceptions import WorkflowFailureError
from stalwart.plugin import SimplePlugin
from stalwart.worker import Plugin as WorkerPlugin
from stalwart.worker import Replayer, Worker, WorkerConfig


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class ShoutWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return str(await workflow.execute_activity(
            shout, text, start_to_close_timeout=timedelta(seconds=10)))


class OrderError(Exception):
    """Not a FailureError: fails the workflow only if a plugin registers it."""


@workflow.defn
class RaisingWorkflow:
    @workflow.run
    async def run(self) -> str:
        raise OrderError("out of stock")


def _recording_plugin(name: str, log: list[str], **kwargs: object) -> SimplePlugin:
    @asynccontextmanager
    async def context() -> AsyncIterator[None]:
        log.append(f"enter {name}")
        yield
        log.append(f"exit {name}")

    return SimplePlugin(name, run_context=context, **kwargs)  # type: ignore[arg-type]


async def test_client_plugin_reaches_every_worker_of_the_client(
        db_url: str, task_queue: str) -> None:
    log: list[str] = []
    plugin = _recording_plugin(
        "shouting", log, activities=[shout], workflows=[ShoutWorkflow],
        data_converter=DataConverter(payload_converter_class=PydanticPayloadConverter))
    client = await Client.connect(db_url, plugins=[plugin])
    try:
        assert client.config()["plugins"] == [plugin]
        assert isinstance(client.data_converter.payload_converter, PydanticPayloadConverter)
        assert client.config()["data_converter"] is DataConverter.default
        # Neither workflows nor activities are given: the client's plugin supplies both.
        worker = Worker(client, task_queue=task_queue)
        assert worker.config(active_config=True)["workflows"] == [ShoutWorkflow]
        assert worker.config()["workflows"] == ()
        async with worker:
            assert log == ["enter shouting"]
            result = await client.execute_workflow(ShoutWorkflow.run, "hi", id="shout",
                                                   task_queue=task_queue)
        assert result == "HI"
        assert log == ["enter shouting", "exit shouting"]
    finally:
        await client.close()


async def test_worker_plugins_wrap_the_run_first_outermost(
        client: Client, task_queue: str) -> None:
    log: list[str] = []
    worker = Worker(client, task_queue=task_queue, activities=[shout],
                    plugins=[_recording_plugin("outer", log), _recording_plugin("inner", log)])
    async with worker:
        pass
    assert log == ["enter outer", "enter inner", "exit inner", "exit outer"]


async def test_plugin_failure_types_fail_the_workflow(client: Client, task_queue: str) -> None:
    plugin = SimplePlugin("orders", workflow_failure_exception_types=[OrderError])
    async with Worker(client, task_queue=task_queue, workflows=[RaisingWorkflow],
                      plugins=[plugin]):
        with pytest.raises(WorkflowFailureError) as caught:
            await client.execute_workflow(RaisingWorkflow.run, id="raising",
                                          task_queue=task_queue)
    assert "out of stock" in str(caught.value.cause)


class RedirectingPlugin(ClientPlugin):
    """Opens a different store than the one asked for (what a secrets plugin might do)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def configure_client(self, config: ClientConfig) -> ClientConfig:
        config["identity"] = "redirected"
        return config

    async def connect_service_client(
            self, config: ConnectConfig, next: Callable[[ConnectConfig], Awaitable[Store]],
    ) -> Store:
        config.target_url = self.url
        return await next(config)


async def test_client_plugin_wraps_opening_the_store(tmp_path: Path) -> None:
    real = f"sqlite:///{tmp_path / 'real.db'}"
    client = await Client.connect("sqlite:///nowhere/at/all.db",
                                  plugins=[RedirectingPlugin(real)])
    try:
        assert client.store.url == real
        assert client.identity == "redirected"
    finally:
        await client.close()


async def test_replayer_plugins_configure_and_wrap_the_replay(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ShoutWorkflow],
                      activities=[shout]):
        handle = await client.start_workflow(ShoutWorkflow.run, "a", id="replayed",
                                             task_queue=task_queue)
        await handle.result()
    history = await handle.fetch_history()
    log: list[str] = []
    # The plugin supplies the workflow class the replayer was not given.
    replayer = Replayer(workflows=[], plugins=[_recording_plugin("r", log,
                                                                  workflows=[ShoutWorkflow])])
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
    assert log == ["enter r", "exit r"]


async def test_bad_plugins_are_refused_and_doubles_warned(
        client: Client, task_queue: str, db_url: str) -> None:
    with pytest.raises(TypeError, match=r"not a stalwart\.worker\.Plugin"):
        Worker(client, task_queue=task_queue, activities=[shout],
               plugins=[object()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"not a stalwart\.client\.Plugin"):
        await Client.connect(db_url, plugins=["nope"])  # type: ignore[list-item]
    plugin = SimplePlugin("twice")
    doubled = await Client.connect(db_url, plugins=[plugin])
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            Worker(doubled, task_queue=task_queue, activities=[shout],
                   plugins=[SimplePlugin("again")])
        assert any("applied twice" in str(w.message) for w in seen)
    finally:
        await doubled.close()


class CountingWorkerPlugin(WorkerPlugin):
    """A hand-written worker plugin (not SimplePlugin) with all four hooks."""

    def __init__(self) -> None:
        self.configured = 0

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        self.configured += 1
        config["max_concurrent_activities"] = 3
        return config

    async def run_worker(self, worker: Worker,
                         next: Callable[[Worker], Awaitable[None]]) -> None:
        await next(worker)

    def configure_replayer(self, config):  # type: ignore[no-untyped-def]
        return config

    def run_replayer(self, replayer, histories, next):  # type: ignore[no-untyped-def]
        return next(replayer, histories)


async def test_hand_written_worker_plugin_changes_the_config(
        client: Client, task_queue: str) -> None:
    plugin = CountingWorkerPlugin()
    worker = Worker(client, task_queue=task_queue, activities=[shout], plugins=[plugin])
    assert plugin.configured == 1
    assert worker.config(active_config=True)["max_concurrent_activities"] == 3
    assert worker._activity_worker.max_concurrent == 3
