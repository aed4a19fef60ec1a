"""Cost of the determinism guard per workflow task: the same activations with the guard
installed and not (``python -m bench.guard_overhead``). Pure runtime: no store, no I/O."""
import time, timeit
from stalwart._runtime import guard
from stalwart._runtime.instance import WorkflowInstance
from stalwart._runtime.definitions import get_workflow_definition
from stalwart._model.events import HistoryEvent
from stalwart.converter import DataConverter, _payload_to_json
from stalwart import workflow
from datetime import timedelta

@workflow.defn
class W:
    @workflow.run
    async def run(self, n: int) -> int:
        for i in range(n):
            await workflow.execute_activity("a", i, start_to_close_timeout=timedelta(seconds=1))
        return n

defn = get_workflow_definition(W)
pc = DataConverter.default.payload_converter
def run(n=200):
    inst = WorkflowInstance(defn, workflow_id="w", run_id="r", converter=DataConverter.default)
    start = HistoryEvent(1, "WorkflowExecutionStarted", 0.0, {"workflow_id": "w", "workflow_type": "W", "task_queue": "q", "input": [_payload_to_json(pc.to_payload(n))], "random_seed": 1})
    inst.activate([start], now=1.0, replaying=False, history_length=0)
    for i in range(1, n + 1):
        ev = HistoryEvent(0, "ActivityTaskCompleted", 1.0, {"seq": i, "result": _payload_to_json(pc.to_payload(i))})
        inst.activate([ev], now=1.0, replaying=False, history_length=0)
    inst.evict()
import statistics
def measure():
    ts = [timeit.timeit(run, number=1) for _ in range(15)]
    return statistics.median(ts) / 201 * 1e6
off = measure()
guard.install()
on = measure()
print(f"per workflow task: guard off {off:.1f} us, guard on {on:.1f} us, overhead {on-off:.1f} us")
