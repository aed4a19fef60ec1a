"""Every count of a run's history is Temporal's: ``list_workflows()`` items, the list filter
field ``HistoryLength``, the CLI's ``workflow list`` and ``workflow describe``, and the
``stalwart_history_length`` metric all
equal ``len((await handle.fetch_history()).events)``, on both stores, for runs with
activities, timers, signals, a continue-as-new and runs still going."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

from stalwart import activity, workflow
from stalwart._history_lengths import TemporalLengths
from stalwart._server.metrics import render
from stalwart._server.readmodel import HISTORY_BUCKETS, ReadModel
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class Errand:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.done = False

    @workflow.run
    async def run(self, name: str) -> list[str]:
        self.notes.append(await workflow.execute_activity(
            shout, name, start_to_close_timeout=timedelta(seconds=30)))
        await workflow.sleep(0.05)
        self.notes.append(await workflow.execute_local_activity(
            shout, "local", start_to_close_timeout=timedelta(seconds=30)))
        await workflow.wait_condition(lambda: self.done)
        return self.notes

    @workflow.signal
    def note(self, text: str) -> None:
        self.notes.append(text)

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def count(self) -> int:
        return len(self.notes)


@workflow.defn
class Chain:
    @workflow.run
    async def run(self, left: int) -> int:
        await workflow.execute_activity(shout, "step", start_to_close_timeout=timedelta(
            seconds=30))
        await workflow.sleep(0.01)
        if left > 0:
            workflow.continue_as_new(left - 1)
        return left


async def _cli(url: str, *args: str) -> object:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stalwart._cli.main", "--url", url, "-o", "json", *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, (args, stdout.decode(), stderr.decode())
    return json.loads(stdout)


async def _fetched(client: Client) -> dict[str, int]:
    """Temporal's length of every run, by run id, from its fetched history."""
    lengths = {}
    async for execution in client.list_workflows():
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        lengths[execution.run_id] = len((await handle.fetch_history()).events)
    return lengths


async def _filtered(client: Client, lengths: dict[str, int]) -> dict[str, int]:
    """Each run's count as the list filter sees it: the length it matches exactly (-1 when
    the filters disagree), checked with =, BETWEEN, IN, NOT and ORDER BY."""
    seen = {}
    for run_id, length in lengths.items():
        run = f"RunId = '{run_id}'"
        exact = [e.run_id async for e in client.list_workflows(
            f"{run} AND HistoryLength = {length}")]
        around = await client.count_workflows(
            f"{run} AND HistoryLength BETWEEN {length - 1} AND {length + 1} "
            f"AND HistoryLength IN ({length}, {length + 5}) AND NOT HistoryLength > {length}")
        seen[run_id] = length if exact == [run_id] and around.count == 1 else -1
    ordered = [e.run_id async for e in client.list_workflows(
        f"HistoryLength >= {min(lengths.values())} ORDER BY HistoryLength DESC")]
    if [lengths[r] for r in ordered] != sorted(lengths.values(), reverse=True):
        return {run_id: -2 for run_id in lengths}
    return seen


def _samples(text: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


async def _in_process_counts(client: Client, db_url: str) -> dict[str, dict[str, int]]:
    counts = {"fetch_history": await _fetched(client)}
    counts["store rows"] = {r.run_id: r.history_length
                            for r in await client.store.list_executions()}
    counts["list_workflows"] = {e.run_id: e.history_length
                                async for e in client.list_workflows()}
    # A second client counts from scratch, the first one by what was added since.
    other = await Client.connect(db_url)
    try:
        counts["new client"] = {e.run_id: e.history_length
                                async for e in other.list_workflows()}
    finally:
        await other.close()
    counts["HistoryLength filter"] = await _filtered(client, counts["fetch_history"])
    return counts


async def _counts(client: Client, db_url: str) -> dict[str, dict[str, int]]:
    """Each place's count of every run, by run id."""
    # The CLI's subprocess starts first and runs while this process reads the other counts.
    cli_listing = asyncio.ensure_future(_cli(db_url, "workflow", "list", "--limit", "100"))
    try:
        counts = await _in_process_counts(client, db_url)
    finally:
        cli_rows = await cli_listing
    assert isinstance(cli_rows, list)
    counts["cli"] = {row["run_id"]: row["history_length"] for row in cli_rows}
    reads = ReadModel(client.store)
    try:
        samples = _samples(render(await reads.metrics(TemporalLengths(client.store))).decode())
    finally:
        reads.close()
    lengths = counts["fetch_history"].values()
    counts["metrics"] = {
        "count": int(samples["stalwart_history_length_count"]) - len(lengths),
        "sum": int(samples["stalwart_history_length_sum"]) - sum(lengths),
        "max": int(samples["stalwart_history_length_max"]) - max(lengths),
        **{f"le {bound}": int(samples[f'stalwart_history_length_bucket{{le="{int(bound)}"}}'])
           - sum(1 for length in lengths if length <= bound) for bound in HISTORY_BUCKETS}}
    return counts


async def _check_everywhere(client: Client, db_url: str) -> dict[str, int]:
    """Waits for the counts to agree (a running run may take a task between two reads)."""
    async def agree() -> dict[str, int] | str:
        counts = await _counts(client, db_url)
        want = counts["fetch_history"]
        # The store's compact row counts are not Temporal's: the counts compared are not
        # theirs.
        assert counts["store rows"].keys() == want.keys() and all(
            counts["store rows"][run_id] < length for run_id, length in want.items()), counts
        wrong = {name: seen for name, seen in counts.items()
                 if name not in ("fetch_history", "store rows", "metrics") and seen != want}
        if wrong or any(counts["metrics"].values()):
            return f"{want} but {wrong}, metrics off by {counts['metrics']}"
        return want

    async def settled() -> dict[str, int] | None:
        result = await agree()
        return result if isinstance(result, dict) else None

    try:
        found: dict[str, int] = await eventually(settled, timeout=60, interval=0.2,
                                                 what="the same counts everywhere")
    except AssertionError:
        raise AssertionError(await agree()) from None
    return found


async def test_every_count_is_temporals(client: Client, db_url: str, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Errand, Chain],
                      activities=[shout]):
        done = await client.start_workflow(Errand.run, "ada", id="len-done",
                                           task_queue=task_queue)
        await done.signal(Errand.note, "one")
        await done.signal(Errand.finish)
        assert sorted(await done.result()) == ["ADA", "LOCAL", "one"]
        assert await client.execute_workflow(Chain.run, 2, id="len-chain",
                                             task_queue=task_queue) == 0
        going = await client.start_workflow(Errand.run, "bo", id="len-going",
                                            task_queue=task_queue)

        async def waiting() -> bool:
            return await going.query(Errand.count) == 2

        await eventually(waiting, timeout=60, what="len-going waits for its finish signal")
        # Inputs no workflow task has taken yet: a run on a queue no worker polls.
        idle = await client.start_workflow(Errand.run, "cy", id="len-idle",
                                           task_queue=f"{task_queue}-idle")
        await idle.signal(Errand.note, "a")
        await idle.signal(Errand.note, "b")

        runs = [e async for e in client.list_workflows()]
        assert sorted(e.status.name for e in runs) == [
            "COMPLETED", "COMPLETED", "CONTINUED_AS_NEW", "CONTINUED_AS_NEW", "RUNNING",
            "RUNNING"]
        before = await _check_everywhere(client, db_url)
        # The runs still going grow; the counts follow them.
        await going.signal(Errand.note, "more")

        async def took_it() -> bool:
            return await going.query(Errand.count) == 3

        await eventually(took_it, timeout=60, what="len-going takes the signal")
        await idle.signal(Errand.note, "c")
        after = await _check_everywhere(client, db_url)
        assert after[going.result_run_id] > before[going.result_run_id]
        assert after[idle.result_run_id] == before[idle.result_run_id] + 1
        # describe(), through the API and the CLI, counts the same way.
        handles = (done, going, idle)
        clis = await asyncio.gather(*(_cli(db_url, "workflow", "describe", "-w", handle.id)
                                      for handle in handles))
        for handle, cli in zip(handles, clis, strict=True):
            described = await handle.describe()
            assert described.history_length == after[handle.result_run_id or ""]
            assert isinstance(cli, dict)
            assert cli["history_length"] == after[handle.result_run_id or ""]
        await going.signal(Errand.finish)
        await going.result()
    assert (await going.describe()).status == WorkflowExecutionStatus.COMPLETED
    await _check_everywhere(client, db_url)


class _CountingStore:
    """The real store, counting the history rows read through it."""

    def __init__(self, store: object) -> None:
        self._store = store
        self.rows_read = 0

    async def get_history(self, run_id: str, after_event_id: int = 0,
                          limit: int | None = None) -> list[object]:
        rows: list[object] = await self._store.get_history(  # type: ignore[attr-defined]
            run_id, after_event_id, limit)
        self.rows_read += len(rows)
        return rows

    async def get_inbox(self, run_id: str) -> list[object]:
        inbox: list[object] = await self._store.get_inbox(run_id)  # type: ignore[attr-defined]
        return inbox


async def test_counts_read_each_stored_row_once(client: Client, task_queue: str) -> None:
    """A closed run's rows are read once; a running run's only as far as they grew."""
    store = _CountingStore(client.store)
    lengths = TemporalLengths(store)

    async def count(handle_id: str) -> tuple[int, int]:
        row = await client.store.get_execution(handle_id, None)
        assert row is not None
        before = store.rows_read
        length = await lengths.of(row.run_id, row.status, row.history_length)
        assert length == len((await client.get_workflow_handle(handle_id).fetch_history())
                             .events)
        return length, store.rows_read - before

    async with Worker(client, task_queue=task_queue, workflows=[Errand], activities=[shout]):
        done = await client.start_workflow(Errand.run, "ada", id="once-done",
                                           task_queue=task_queue)
        await done.signal(Errand.finish)
        await done.result()
        row = await client.store.get_execution("once-done", None)
        assert row is not None
        length, read = await count("once-done")
        assert read == row.history_length
        assert await count("once-done") == (length, 0)

        going = await client.start_workflow(Errand.run, "bo", id="once-going",
                                            task_queue=task_queue)

        async def waiting() -> bool:
            return await going.query(Errand.count) == 2

        await eventually(waiting, timeout=60, what="once-going waits for its finish signal")
        first = await client.store.get_execution("once-going", None)
        assert first is not None
        length, read = await count("once-going")
        assert read == first.history_length
        await going.signal(Errand.note, "more")

        async def took_it() -> bool:
            return await going.query(Errand.count) == 3

        await eventually(took_it, timeout=60, what="once-going takes the signal")

        async def committed() -> bool:
            row = await client.store.get_execution("once-going", None)
            return row is not None and row.history_length > first.history_length

        await eventually(committed, timeout=60, what="once-going's task recorded")
        grown = await client.store.get_execution("once-going", None)
        assert grown is not None
        longer, read = await count("once-going")
        assert longer > length
        assert read == grown.history_length - first.history_length
        await going.signal(Errand.finish)
        await going.result()
