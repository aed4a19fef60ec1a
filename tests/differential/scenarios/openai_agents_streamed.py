"""``Runner.run_streamed`` as Temporal's docs write it: the workflow hosts a
``WorkflowStream`` (built in ``@workflow.init``), the plugin's ``ModelActivityParameters``
name a ``streaming_topic``, and the workflow reads ``stream_events()`` while the run goes on.
The model is the harness's OpenAI-compatible stand-in (``LLM_STAND_IN``), which streams its
answer as server-sent events."""

from temporalio import workflow
from temporalio.client import Client
from temporalio.contrib.workflow_streams import WorkflowStream

from agents import Agent, Runner

from ._agents import stand_in_plugin

LLM_STAND_IN = [
    {"text": "Streams arrive in pieces."},
]

KNOWN_DIFFERENCES = {
    "events": "Temporal's streaming model activity publishes each batch of model events to "
              "the workflow's stream as a __temporal_workflow_stream_publish signal, so its "
              "history holds one WorkflowExecutionSignaled (and the workflow task it causes) "
              "per batch, a number that depends on how the 100 ms batches fall; Stalwart keeps "
              "stream items in the store beside the history (docs/streams.md), so its history "
              "holds only the activity. Results, errors, the model requests and the replay of "
              "Stalwart's history by temporalio's Replayer are still compared.",
}

@workflow.defn
class StreamingAgent:
    @workflow.init
    def __init__(self, question: str) -> None:
        self.stream = WorkflowStream()

    @workflow.run
    async def run(self, question: str) -> dict[str, object]:
        agent = Agent(name="Streamer", instructions="Answer in one sentence.")
        result = Runner.run_streamed(agent, question)
        kinds: list[str] = []
        async for event in result.stream_events():
            kind = event.type
            if kind == "raw_response_event":
                kind = f"raw:{event.data.type}"
            if not kinds or kinds[-1] != kind:
                kinds.append(kind)
        return {"output": str(result.final_output), "events": kinds}

PLUGINS = [stand_in_plugin(streaming_topic="model-events")]
WORKFLOWS = [StreamingAgent]

async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(StreamingAgent.run, "How do streams arrive?",
                                         id=f"{task_queue}-streamed", task_queue=task_queue)
