"""Search attribute and memo upserts, read back through workflow.info() and describe()."""

from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("CustomKeywordField")
SCORE = SearchAttributeKey.for_int("CustomIntField")


@workflow.defn
class Tagged:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        workflow.upsert_search_attributes([STAGE.value_set("reviewing"), SCORE.value_set(7)])
        workflow.upsert_memo({"owner": "ana", "notes": ["first"]})
        await workflow.sleep(0.1)
        workflow.upsert_search_attributes([STAGE.value_set("done")])
        workflow.upsert_memo({"notes": None})
        info = workflow.info()
        return {"stage": info.typed_search_attributes.get(STAGE),
                "score": info.typed_search_attributes.get(SCORE),
                "memo": workflow.memo()}


WORKFLOWS = [Tagged]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Tagged.run, id=f"{task_queue}-tagged",
                                         task_queue=task_queue)
    result = await handle.result()
    description = await handle.describe()
    return {"result": result, "memo": await description.memo(),
            "stage": description.typed_search_attributes.get(STAGE)}
