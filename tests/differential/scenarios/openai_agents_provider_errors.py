"""Provider errors as the OpenAI Agents integration meets them: a 429 with ``Retry-After: 1``
fails the model activity's first attempt as retryable (its next attempt waits the second the
provider asked for, and succeeds); a 401 fails the model activity non-retryably, with no
second request, and with it the workflow. What the client sees of the failure (each cause's
type, ``ApplicationError.type`` and ``non_retryable``) is the result compared, with what the
history keeps of the 429 (the successful attempt's number, its last failure and the delay)."""


from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from agents import Agent, Runner

from ._agents import stand_in_plugin

LLM_STAND_IN = [
    {"status": 429, "retry_after": 1, "message": "Rate limit reached"},
    {"text": "Hello after the rate limit."},
    {"status": 401, "message": "Incorrect API key provided"},
]


@workflow.defn
class Greeter:
    @workflow.run
    async def run(self, prompt: str) -> str:
        agent = Agent(name="Greeter", instructions="Greet the user.")
        result = await Runner.run(agent, prompt)
        return str(result.final_output)


PLUGINS = [stand_in_plugin()]
WORKFLOWS = [Greeter]

KNOWN_DIFFERENCES = {
    "attributes": (
        "the OpenAI Agents integration's activity payloads: temporalio writes a model "
        "request's unset settings as nulls and an MCP tool's schemas under their Python "
        "names; Stalwart leaves the nulls out and uses MCP's wire names"
    ),
}


def _causes(error: BaseException) -> list[dict[str, object]]:
    chain: list[dict[str, object]] = []
    current: BaseException | None = error
    while current is not None:
        entry: dict[str, object] = {"class": type(current).__name__}
        if isinstance(current, ApplicationError):
            entry.update(type=current.type, non_retryable=current.non_retryable,
                         message=current.message)
        if isinstance(current, ActivityError):
            entry.update(activity=current.activity_type,
                         retry_state=current.retry_state.name if current.retry_state else None)
        chain.append(entry)
        current = current.__cause__
    return chain


async def run(client: Client, task_queue: str) -> object:
    outcome: dict[str, object] = {}
    outcome["rate_limited"] = await client.execute_workflow(
        Greeter.run, "Hi", id=f"{task_queue}-rate-limited", task_queue=task_queue)
    # The attempt that succeeded, and what the history keeps of the 429 before it: the
    # failure and the delay the provider's Retry-After asked for.
    history = await client.get_workflow_handle(f"{task_queue}-rate-limited").fetch_history()
    started = next(e["activityTaskStartedEventAttributes"]
                   for e in history.to_json_dict()["events"]
                   if "activityTaskStartedEventAttributes" in e)
    last = started.get("lastFailure", {})
    outcome["rate_limited_attempt"] = {
        "attempt": started.get("attempt"), "last_failure": last.get("message"),
        "type": last.get("applicationFailureInfo", {}).get("type"),
        "next_retry_delay": last.get("applicationFailureInfo", {}).get("nextRetryDelay")}
    try:
        await client.execute_workflow(Greeter.run, "Hi again", id=f"{task_queue}-bad-key",
                                      task_queue=task_queue)
    except WorkflowFailureError as error:
        outcome["bad_key"] = _causes(error)
    return outcome
