"""Cost of the determinism guard per workflow task: the same activations with the guard
installed and not (``python -m bench.guard_overhead``). Pure runtime: no store, no I/O."""

from __future__ import annotations

import statistics
import timeit
from datetime import timedelta

from stalwart import workflow
from stalwart._model.events import HistoryEvent
from stalwart._runtime import guard
from stalwart._runtime.definitions import get_workflow_definition
from stalwart._runtime.instance import WorkflowInstance
from stalwart.converter import DataConverter, _payload_to_json

ACTIVATIONS = 200


@workflow.defn
class Steps:
    @workflow.run
    async def run(self, n: int) -> int:
        for i in range(n):
            await workflow.execute_activity("a", i, start_to_close_timeout=timedelta(seconds=1))
        return n


def _run_once() -> None:
    definition = get_workflow_definition(Steps)
    assert definition is not None
    converter = DataConverter.default
    pc = converter.payload_converter
    instance = WorkflowInstance(definition, workflow_id="w", run_id="r", converter=converter)
    start = HistoryEvent(1, "WorkflowExecutionStarted", 0.0, {
        "workflow_id": "w", "workflow_type": "Steps", "task_queue": "q",
        "input": [_payload_to_json(pc.to_payload(ACTIVATIONS))], "random_seed": 1})
    instance.activate([start], now=1.0, replaying=False, history_length=0)
    for seq in range(1, ACTIVATIONS + 1):
        done = HistoryEvent(0, "ActivityTaskCompleted", 1.0,
                            {"seq": seq, "result": _payload_to_json(pc.to_payload(seq))})
        instance.activate([done], now=1.0, replaying=False, history_length=0)
    instance.evict()


def _microseconds_per_task() -> float:
    times = [timeit.timeit(_run_once, number=1) for _ in range(15)]
    return statistics.median(times) / (ACTIVATIONS + 1) * 1e6


def main() -> None:
    off = _microseconds_per_task()
    guard.install()
    on = _microseconds_per_task()
    print(f"per workflow task: guard off {off:.1f} us, guard on {on:.1f} us, "
          f"overhead {on - off:.1f} us")


if __name__ == "__main__":
    main()
