"""The deprecated dict form of workflow.upsert_search_attributes sets and (with an empty list)
unsets attributes; the workflow carries on and the client sees the result. Needs the search
attributes CustomKeywordField (Keyword) and CustomIntField (Int) registered on the server."""

import warnings

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

KEYWORD = SearchAttributeKey.for_keyword("CustomKeywordField")
INT = SearchAttributeKey.for_int("CustomIntField")


@workflow.defn
class Upserts:
    @workflow.run
    async def run(self) -> dict:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            workflow.upsert_search_attributes({"CustomKeywordField": ["hello"],
                                               "CustomIntField": [5]})
            first = {
                "keyword": workflow.info().typed_search_attributes.get(KEYWORD),
                "int": workflow.info().typed_search_attributes.get(INT),
            }
            await workflow.sleep(0.1)
            workflow.upsert_search_attributes({"CustomIntField": []})
        return {"first": first,
                "after_unset": workflow.info().typed_search_attributes.get(INT)}


WORKFLOWS = [Upserts]
ACTIVITIES: list[object] = []

KNOWN_DIFFERENCES = {
    "attributes": (
        "the deprecated dict form's values: temporalio records each as the list it was "
        'given ([5], [] to unset, with its type); Stalwart records the value itself'
    ),
}


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Upserts.run, id=f"{task_queue}-wf",
                                         task_queue=task_queue)
    result = await handle.result()
    described = (await handle.describe()).typed_search_attributes
    return {"result": result, "described_keyword": described.get(KEYWORD),
            "described_int": described.get(INT)}
