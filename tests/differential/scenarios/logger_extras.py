"""workflow.logger and activity.logger records as temporalio makes them: the message with
the run's details appended, the ``temporal_workflow`` / ``temporal_activity`` extras, and
no records from replay."""

import logging
import re
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client

RECORDS: list[logging.LogRecord] = []


class _Keep(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        RECORDS.append(record)


@activity.defn
async def note(text: str) -> str:
    activity.logger.info("activity says %s", text, extra={"mine": 1})
    return text


@workflow.defn
class Chatty:
    @workflow.run
    async def run(self, text: str) -> str:
        workflow.logger.info("workflow says %s", text)
        done = await workflow.execute_activity(note, text,
                                               start_to_close_timeout=timedelta(seconds=10))
        workflow.logger.warning("after the activity", extra={"mine": 2})
        return done


WORKFLOWS = [Chatty]
ACTIVITIES = [note]


def _shape(record: logging.LogRecord, ids: dict[str, str]) -> dict[str, Any]:
    message = record.getMessage()
    for value, name in ids.items():
        message = message.replace(value, name)
    extras = {key: sorted(getattr(record, key)) for key in
              ("temporal_workflow", "temporal_activity") if hasattr(record, key)}
    return {"logger": record.name.split(".")[-1], "level": record.levelname,
            "message": re.sub(r"'workflow_task_queue': '[^']*'|'task_queue': '[^']*'",
                              "<queue>", message),
            "extras": extras, "mine": getattr(record, "mine", None)}


async def run(client: Client, task_queue: str) -> object:
    handler = _Keep()
    # The adapters' loggers are named after the library ("temporalio.workflow" there).
    loggers = [workflow.logger.logger, activity.logger.logger]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    RECORDS.clear()
    try:
        handle = await client.start_workflow(Chatty.run, "hi", id=f"{task_queue}-chatty",
                                             task_queue=task_queue)
        result = await handle.result()
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
    ids = {handle.result_run_id or "": "<run>", handle.id: "<id>"}
    return {"result": result, "records": [_shape(r, ids) for r in RECORDS]}
