"""The OpenAI Agents SDK's other building blocks inside a workflow, as Temporal's samples use
them: a ``@function_tool`` that runs in the workflow itself (no activity), a structured
``output_type``, an agent used as another agent's tool (``Agent.as_tool``), and an input
guardrail that trips (run before the model, so the model's answers stay in a fixed order).
The model is the harness's OpenAI-compatible stand-in (``LLM_STAND_IN``)."""

from dataclasses import dataclass

from temporalio import workflow
from temporalio.client import Client

from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    RunContextWrapper,
    Runner,
    function_tool,
    input_guardrail,
)

from ._agents import stand_in_plugin

LLM_STAND_IN = [
    {"tool_calls": [["add", {"a": 2, "b": 3}]]},
    {"text": "2 + 3 = 5"},
    {"text": '{"response": {"city": "Paris", "celsius": 21}}'},  # a dataclass: wrapped
    {"tool_calls": [["translate", {"input": "good morning"}]]},
    {"text": "bonjour"},
    {"text": "In French: bonjour"},
    {"text": "This answer is never asked for: the guardrail stops the run first."},
]


@function_tool
async def add(a: int, b: int) -> int:
    """Add two numbers."""
    # async: the SDK runs a plain function tool in a thread, which no workflow allows.
    return a + b


@dataclass
class Weather:
    city: str
    celsius: int


@input_guardrail(run_in_parallel=False)
async def no_passwords(context: RunContextWrapper[None], agent: Agent[None],
                       text: object) -> GuardrailFunctionOutput:
    leaked = "password" in str(text).lower()
    return GuardrailFunctionOutput(output_info={"leaked": leaked}, tripwire_triggered=leaked)


@workflow.defn
class Toolbox:
    @workflow.run
    async def run(self) -> dict[str, object]:
        out: dict[str, object] = {}
        calculator = Agent(name="Calculator", instructions="Use the tool.", tools=[add])
        out["calculator"] = str((await Runner.run(calculator, "2 + 3?")).final_output)

        forecaster = Agent(name="Forecaster", instructions="Answer as JSON.",
                           output_type=Weather)
        weather = (await Runner.run(forecaster, "Paris?")).final_output
        out["forecast"] = [type(weather).__name__, weather.city, weather.celsius]

        translator = Agent(name="Translator", instructions="Translate into French.")
        orchestrator = Agent(
            name="Orchestrator", instructions="Translate with the tool.",
            tools=[translator.as_tool(tool_name="translate",
                                      tool_description="Translate the input into French.")])
        result = await Runner.run(orchestrator, "Say good morning in French")
        out["orchestrator"] = [str(result.final_output), result.last_agent.name]

        guarded = Agent(name="Guarded", instructions="Help.", input_guardrails=[no_passwords])
        try:
            await Runner.run(guarded, "my password is hunter2")
            out["guardrail"] = "passed"
        except InputGuardrailTripwireTriggered as tripped:
            out["guardrail"] = ["tripped", tripped.guardrail_result.output.output_info]
        return out


PLUGINS = [stand_in_plugin()]
WORKFLOWS = [Toolbox]
ACTIVITIES: list[object] = []

KNOWN_DIFFERENCES = {
    "attributes": (
        "the OpenAI Agents integration's activity payloads: temporalio writes a model "
        "request's unset settings as nulls and an MCP tool's schemas under their Python "
        "names; Stalwart leaves the nulls out and uses MCP's wire names"
    ),
}


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Toolbox.run, id=f"{task_queue}-toolbox",
                                         task_queue=task_queue)
