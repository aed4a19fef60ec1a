"""PayloadLimitsConfig: a client warns (and still sends) when an outbound payload or memo is
over temporalio's warning sizes; the hard per-payload limit still refuses."""

from __future__ import annotations

import logging

import pytest

from stalwart import workflow
from stalwart.client import Client, PayloadLimitsConfig


@workflow.defn
class Echo:
    @workflow.run
    async def run(self, text: str) -> str:
        return text


async def test_defaults_are_temporals_warning_sizes() -> None:
    assert PayloadLimitsConfig() == PayloadLimitsConfig(payloads_warn_size=512 * 1024,
                                                        memo_warn_size=2 * 1024)


async def test_large_payloads_and_memos_are_logged_and_still_sent(
        db_url: str, task_queue: str, caplog: pytest.LogCaptureFixture) -> None:
    client = await Client.connect(db_url, payload_limits=PayloadLimitsConfig(
        payloads_warn_size=100, memo_warn_size=50))
    try:
        with caplog.at_level(logging.WARNING, logger="stalwart.client"):
            handle = await client.start_workflow(Echo.run, "x" * 200, id="big",
                                                 task_queue=task_queue,
                                                 memo={"note": "y" * 80})
            small = await client.start_workflow(Echo.run, "small", id="small",
                                                task_queue=task_queue)
        warnings = [r.getMessage() for r in caplog.records if r.name == "stalwart.client"]
        assert len(warnings) == 2, warnings
        assert "start_workflow('Echo') arguments are 202 bytes" in warnings[0]
        assert "payloads_warn_size" in warnings[0]
        assert "start_workflow('Echo') memo is" in warnings[1]
        assert "memo_warn_size" in warnings[1]
        # Sent regardless.
        assert (await handle.describe()).id == "big"
        assert (await small.describe()).id == "small"
        assert client.config()["payload_limits"] == PayloadLimitsConfig(100, 50)
    finally:
        await client.close()


async def test_zero_disables_the_warnings(db_url: str, task_queue: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    client = await Client.connect(db_url, payload_limits=PayloadLimitsConfig(0, 0))
    try:
        with caplog.at_level(logging.WARNING, logger="stalwart.client"):
            await client.start_workflow(Echo.run, "x" * 600_000, id="huge",
                                        task_queue=task_queue, memo={"note": "y" * 5000})
        assert not [r for r in caplog.records if r.name == "stalwart.client"]
    finally:
        await client.close()
