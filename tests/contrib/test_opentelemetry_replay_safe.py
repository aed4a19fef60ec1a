"""ReplaySafeMeterProvider and ReplaySafeLoggerProvider: what workflow code records through
them is recorded once, on the live run, and not again when the workflow replays its history
(a replay here is the Replayer re-running the recorded history); queries, which are live,
still record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from stalwart import workflow
from stalwart.client import Client
from stalwart.contrib.opentelemetry import ReplaySafeLoggerProvider, ReplaySafeMeterProvider
from stalwart.worker import Replayer, Worker

READER = InMemoryMetricReader()
METERS = ReplaySafeMeterProvider(MeterProvider(metric_readers=[READER]))
LOGS = InMemoryLogRecordExporter()
_log_provider = LoggerProvider()
_log_provider.add_log_record_processor(SimpleLogRecordProcessor(LOGS))
LOGGERS = ReplaySafeLoggerProvider(_log_provider)


def _counted() -> int:
    data: Any = READER.get_metrics_data()
    total = 0
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "steps":
                    total += sum(point.value for point in metric.data.data_points)
    return total


@workflow.defn
class Counting:
    @workflow.run
    async def run(self) -> str:
        with workflow.unsafe.sandbox_unrestricted():
            METERS.get_meter("test").create_counter("steps").add(1)
            LOGGERS.get_logger("test").emit(body="step")  # type: ignore[call-arg]
        await workflow.sleep(timedelta(milliseconds=10))
        return "done"

    @workflow.query
    def peek(self) -> str:
        with workflow.unsafe.sandbox_unrestricted():
            METERS.get_meter("test").create_counter("steps").add(10)
        return "peeked"


async def test_workflow_recordings_are_not_repeated_on_replay(tmp_path: object) -> None:
    client = await Client.connect(f"sqlite:///{tmp_path}/otel.db")
    try:
        async with Worker(client, task_queue="q", workflows=[Counting]):
            handle = await client.start_workflow(Counting.run, id="counting", task_queue="q")
            assert await handle.result() == "done"
            assert _counted() == 1
            logged = len(LOGS.get_finished_logs())
            assert logged == 1
            # A query replays the history on a fresh instance (the run is closed), then runs
            # live: only the query's own recording counts.
            assert await handle.query(Counting.peek) == "peeked"
            assert _counted() == 11
        await Replayer(workflows=[Counting]).replay_workflow(await handle.fetch_history())
        assert _counted() == 11
        assert len(LOGS.get_finished_logs()) == logged
    finally:
        await client.close()
