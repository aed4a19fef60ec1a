"""``/metrics`` in the Prometheus text format (version 0.0.4), written by hand: a few gauges
read from the store on each scrape need no client library."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .backend import Backend
from .readmodel import MetricsSnapshot


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def render(snapshot: MetricsSnapshot) -> str:
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    family("stalwart_workflow_executions", "gauge",
           "Workflow runs in the store, by workflow type and status.")
    for (workflow_type, status), count in sorted(snapshot.executions.items()):
        lines.append(f"stalwart_workflow_executions"
                     f"{_labels(workflow_type=workflow_type, status=status)} {count}")
    family("stalwart_task_queue_backlog", "gauge",
           "Tasks ready to run that no worker holds yet, by task queue and kind.")
    for (queue, kind), count in sorted(snapshot.backlog.items()):
        lines.append(f"stalwart_task_queue_backlog{_labels(task_queue=queue, kind=kind)} {count}")
    family("stalwart_task_queue_leased", "gauge",
           "Tasks a worker holds right now, by task queue and kind.")
    for (queue, kind), count in sorted(snapshot.leased.items()):
        lines.append(f"stalwart_task_queue_leased{_labels(task_queue=queue, kind=kind)} {count}")
    family("stalwart_inbox_events", "gauge",
           "Signals, results and timer firings waiting for their run's next workflow task.")
    lines.append(f"stalwart_inbox_events {snapshot.inbox_events}")
    family("stalwart_timers_pending", "gauge", "Durable timers not yet fired.")
    lines.append(f"stalwart_timers_pending {snapshot.timers}")
    family("stalwart_workers", "gauge", "Registered workers, by task queue.")
    for queue, count in sorted(snapshot.workers.items()):
        lines.append(f"stalwart_workers{_labels(task_queue=queue)} {count}")
    family("stalwart_history_length", "histogram", "Events in the history of each run.")
    for bound, count in snapshot.history_buckets:
        lines.append(f'stalwart_history_length_bucket{{le="{bound:g}"}} {count}')
    lines.append(f'stalwart_history_length_bucket{{le="+Inf"}} {snapshot.history_runs}')
    lines.append(f"stalwart_history_length_sum {snapshot.history_events}")
    lines.append(f"stalwart_history_length_count {snapshot.history_runs}")
    family("stalwart_history_length_max", "gauge", "Events in the longest history.")
    lines.append(f"stalwart_history_length_max {snapshot.history_max}")
    return "\n".join(lines) + "\n"


async def metrics(request: Request) -> Response:
    backend: Backend = request.app.state.backend
    snapshot = await backend.reads.metrics()
    return PlainTextResponse(render(snapshot),
                             media_type="text/plain; version=0.0.4; charset=utf-8")
