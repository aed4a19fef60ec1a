"""The agent examples run offline, against the local stand-in model, and do what they say."""

from __future__ import annotations

import pytest
from examples.approval_agent import main as approval
from examples.durable_chat import main as chat
from examples.multi_agent import main as multi
from examples.openai_agents_weather import main as openai_weather
from examples.pydantic_ai_forecast import main as pydantic_forecast
from examples.saga_payment_agent import main as saga


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_example_approval_agent_buys_after_approval(
        capsys: pytest.CaptureFixture[str]) -> None:
    await approval.main()
    out = capsys.readouterr().out
    assert "alice: approved" in out and "order #1001" in out


async def test_example_multi_agent_validates_executor_answers(
        capsys: pytest.CaptureFixture[str]) -> None:
    await multi.main()
    out = capsys.readouterr().out
    assert "validator: VALID" in out and out.count("According to") == 2
    assert "calls=6" in out


async def test_example_saga_payment_agent_rolls_back(
        capsys: pytest.CaptureFixture[str]) -> None:
    saga.LEDGER.clear()
    await saga.main()
    assert saga.LEDGER == ["reserve sku-42", "charge 99.5", "refund 99.5", "release sku-42"]
    # str() of an ApplicationError with a type puts the type first, as in temporalio.
    assert "ROLLED_BACK: NoCourier: no courier" in capsys.readouterr().out


async def test_example_durable_chat_remembers_across_workers(
        capsys: pytest.CaptureFixture[str]) -> None:
    await chat.main()
    assert "Earlier you told me: 'My order #12 is late.'" in capsys.readouterr().out


async def test_example_openai_agents_weather_streams_and_records_activities(
        capsys: pytest.CaptureFixture[str]) -> None:
    await openai_weather.main()
    out = capsys.readouterr().out
    assert "streamed: In Paris right now it is sunny, 21C. Enjoy your walk!" in out
    assert "activities: invoke_model_activity_streaming, get_weather, " \
           "invoke_model_activity_streaming" in out


async def test_example_pydantic_ai_forecast_runs_the_agent_durably(
        capsys: pytest.CaptureFixture[str]) -> None:
    await pydantic_forecast.main()
    out = capsys.readouterr().out
    assert 'answer: {"city": "Paris", "summary": "sunny, 21C: a good day for a walk"}' in out
    assert "activities: agent__forecaster__model_request, " \
           "agent__forecaster__toolset__weather__call_tool, agent__forecaster__model_request" in out
