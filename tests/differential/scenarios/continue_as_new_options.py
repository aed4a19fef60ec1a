"""continue_as_new with temporalio's options: a new memo and new search attributes (replacing
what the next run would keep), a run timeout, and a delay before the next run's first task."""

from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

KEYWORD = SearchAttributeKey.for_keyword("CustomKeywordField")


@workflow.defn
class Carries:
    @workflow.run
    async def run(self, runs_left: int) -> dict:
        if runs_left > 0:
            workflow.continue_as_new(
                runs_left - 1, memo={"note": f"from run {runs_left}"},
                search_attributes=TypedSearchAttributes([SearchAttributePair(KEYWORD, "next")]),
                run_timeout=timedelta(minutes=5),
                backoff_start_interval=timedelta(seconds=1))
        info = workflow.info()
        return {"memo": workflow.memo_value("note", "none"),
                "keyword": info.typed_search_attributes.get(KEYWORD),
                "continued": info.continued_run_id is not None,
                "run_timeout": info.run_timeout.total_seconds() if info.run_timeout else None}


WORKFLOWS = [Carries]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(
        Carries.run, 1, id=f"{task_queue}-carries", task_queue=task_queue,
        memo={"note": "first"},
        search_attributes=TypedSearchAttributes([SearchAttributePair(KEYWORD, "first")]))
