"""What the run page shows beyond its history: tokens and cost (per run, step and model), the
budget's state, waiting human steps, and the timeline chart."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from .._model.events import HistoryEvent
from .._store.base import ExecutionRow
from ..agents._types import Usage
from ..agents.cost import USAGE_MEMO, RunUsage, run_usage_from_memo, steps_from_history
from ..agents.human import HUMAN_STEPS_MEMO
from ..agents.loop import BUDGET_MEMO
from . import gantt
from .payloads import decode_payloads
from .timeline import payload_values


def decoded_memo(row: ExecutionRow) -> dict[str, Any]:
    memo = decode_payloads(row.memo or {})
    return memo if isinstance(memo, dict) else {}


def usage_of(row: ExecutionRow, events: list[HistoryEvent]) -> dict[str, Any]:
    """The run's usage: the memo's totals when the run keeps them (the agent layer does),
    else the sum of the model calls found in its history (e.g. the OpenAI Agents SDK's)."""
    memo = decoded_memo(row)
    steps = steps_from_history(events, payload_values)
    total = run_usage_from_memo(memo.get(USAGE_MEMO))
    source = "memo"
    if total is None:
        source = "history"
        total = RunUsage()
        for step in steps:
            total.add_call(step.model, step.usage)
    return {
        "source": source if steps or source == "memo" else "none",
        "total": total.to_json(),
        "total_tokens": total.total_tokens,
        "steps": [{"event_id": s.event_id, "activity_type": s.activity_type, "model": s.model,
                   "summary": s.summary, **_usage_json(s.usage)} for s in steps],
        "budget": memo.get(BUDGET_MEMO),
    }


def _usage_json(usage: Usage) -> dict[str, Any]:
    data = asdict(usage)
    data["total_tokens"] = usage.total_tokens
    return data


def run_context(row: ExecutionRow, events: list[HistoryEvent]) -> dict[str, Any]:
    memo = decoded_memo(row)
    usage = usage_of(row, events)
    waiting = memo.get(HUMAN_STEPS_MEMO) if row.close_time is None else None
    return {
        "usage": usage if usage["source"] != "none" else None,
        "human_steps": waiting if isinstance(waiting, list) else [],
        "chart": gantt.chart(events, row.start_time, row.close_time or time.time()),
    }


def list_cost(memo: dict[str, Any] | None) -> RunUsage | None:
    """The usage a list row shows, from the run's stored memo (store form)."""
    if not memo or USAGE_MEMO not in memo:
        return None
    return run_usage_from_memo(decode_payloads(memo[USAGE_MEMO]))
