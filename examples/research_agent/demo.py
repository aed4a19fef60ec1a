"""Kill a research agent's worker mid-run and watch another worker finish the job.

``python -m examples.research_agent.demo`` (or ``scripts/demo``):

1. starts the ``ResearchAgent`` workflow on a fresh SQLite file in a temporary directory;
2. starts a worker *process* (A) and prints each step as it runs, with the worker's pid;
3. once three of the six steps have their results recorded, kills A with SIGKILL, in the
   middle of step 4's call;
4. starts a second worker process (B), which replays the recorded history and carries on;
5. prints the report and checks, from the activities' own journal, that no step whose result
   was recorded ran again. Exits 1 if one did.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from stalwart.client import Client, WorkflowHandle

from . import trace
from .agent import STEPS, ResearchAgent
from .worker import TASK_QUEUE

QUESTION = "How can a long-running AI research agent survive a crash without redoing its work?"
WORKFLOW_ID = "research-agent-demo"
KILL_AFTER_RECORDED = 3
# Bounds on how long the demo waits for anything; reaching one means something is broken.
DEADLINE_SECONDS = 30.0
REPO_ROOT = Path(__file__).resolve().parents[2]


def say(line: str = "") -> None:
    print(line, flush=True)


class WorkerProcess:
    """A worker subprocess; its own log goes to a file, shown only if something goes wrong."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log

    @classmethod
    async def start(cls, name: str, url: str, trace_path: Path, workdir: Path) -> WorkerProcess:
        log = workdir / f"worker-{name}.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "examples.research_agent.worker", url,
                "--trace", str(trace_path), stdout=out, stderr=out, cwd=REPO_ROOT)
        return cls(name, proc, log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def sigkill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        # Reaping matters: an unreaped, killed child is a zombie whose pid still looks alive.
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class TracePrinter:
    """Prints the activities' trace lines as they appear in the trace file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shown = 0

    def flush(self) -> list[trace.Entry]:
        entries = trace.read(self.path)
        for entry in entries[self.shown:]:
            what = "started" if entry.event == "begin" else "done   "
            retry = f" (attempt {entry.attempt})" if entry.attempt > 1 else ""
            say(f"  step {entry.step}/{STEPS}  {entry.activity:<19} pid {entry.pid:<7} "
                f"{what}  {entry.detail}{retry}")
        self.shown = len(entries)
        return entries

    async def run(self) -> None:
        while True:
            self.flush()
            await asyncio.sleep(0.01)


async def recorded_steps(handle: WorkflowHandle[Any, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(step, {"attempt", "identity"}) of every ActivityTaskCompleted event in the history, in
    order. As in Temporal, a completion names the ActivityTaskScheduled it closes and the
    ActivityTaskStarted (which holds the attempt) by their event ids."""
    events = (await handle.fetch_history()).events
    by_id = {str(e.event_id): e for e in events}
    return [(int(by_id[e.attributes["scheduledEventId"]].attributes["activityId"]
                 .removeprefix("step-")),
             {"attempt": by_id[e.attributes["startedEventId"]].attributes["attempt"],
              "identity": e.attributes["identity"]})
            for e in events if e.event_type == "ActivityTaskCompleted"]


async def wait_until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {DEADLINE_SECONDS:.0f}s waiting for {what}")
        await asyncio.sleep(0.01)


def find_repeats(recorded: list[tuple[int, dict[str, Any]]], recorded_at_kill: set[int],
                 done: list[trace.Entry], killed_pid: int) -> list[str]:
    """Every way a step ran again after its result was recorded, or was recorded twice."""
    problems = []
    for step in range(1, STEPS + 1):
        records = [attrs for s, attrs in recorded if s == step]
        calls = [e for e in done if e.step == step]
        if len(records) != 1 or not calls:
            problems.append(f"step {step}: {len(records)} results in the history, "
                            f"{len(calls)} completed calls")
            continue
        last = calls[-1]
        recorded_by = int(records[0]["identity"].split("@")[0])
        if (last.attempt, last.pid) != (records[0]["attempt"], recorded_by):
            problems.append(f"step {step} ran again after its result was recorded: {calls}")
        if step in recorded_at_kill and (len(calls) != 1 or calls[0].pid != killed_pid):
            problems.append(f"step {step} was recorded before the kill but ran {len(calls)}x")
    return problems


async def run_demo(workdir: Path) -> int:
    url = f"sqlite:///{workdir / 'demo.db'}"
    trace_path = workdir / "trace.jsonl"
    say("Stalwart demo: a research agent whose worker is killed mid-run.")
    say(f"store: {url}")
    client = await Client.connect(url)
    workers: list[WorkerProcess] = []
    printer = TracePrinter(trace_path)
    printing = asyncio.get_running_loop().create_task(printer.run())
    began = time.monotonic()
    try:
        handle = await client.start_workflow(ResearchAgent.run, QUESTION, id=WORKFLOW_ID,
                                             task_queue=TASK_QUEUE)
        say(f"started workflow {WORKFLOW_ID!r}: {QUESTION}")
        say()
        worker_a = await WorkerProcess.start("A", url, trace_path, workdir)
        workers.append(worker_a)
        say(f"worker A started (pid {worker_a.pid})")

        async def mid_step_after_recorded() -> bool:
            recorded = await recorded_steps(handle)
            return len(recorded) >= KILL_AFTER_RECORDED and any(
                e.event == "begin" and e.step == KILL_AFTER_RECORDED + 1
                for e in trace.read(trace_path))

        await wait_until(mid_step_after_recorded,
                         f"{KILL_AFTER_RECORDED} recorded steps and step "
                         f"{KILL_AFTER_RECORDED + 1} to start")
        await worker_a.sigkill()
        printer.flush()
        # Nothing writes to the store until worker B starts: this is exactly what survived.
        recorded_at_kill = {step for step, _ in await recorded_steps(handle)}
        say()
        say(f"*** SIGKILL worker A (pid {worker_a.pid}) in the middle of step "
            f"{KILL_AFTER_RECORDED + 1}; {len(recorded_at_kill)} of {STEPS} step results are "
            "recorded in the store ***")
        say()
        worker_b = await WorkerProcess.start("B", url, trace_path, workdir)
        workers.append(worker_b)
        say(f"worker B started (pid {worker_b.pid}): it replays the recorded history, skips "
            f"steps {', '.join(map(str, sorted(recorded_at_kill)))} and resumes")
        report = await asyncio.wait_for(handle.result(), DEADLINE_SECONDS)
        elapsed = time.monotonic() - began
        printer.flush()
        recorded = await recorded_steps(handle)
    except BaseException:
        for worker in workers:
            say(f"--- log of worker {worker.name} (pid {worker.pid}) ---")
            say(worker.log.read_text(errors="replace"))
        raise
    finally:
        printing.cancel()
        for worker in workers:
            await worker.stop()
        await client.close()

    entries = trace.read(trace_path)
    done = [e for e in entries if e.event == "done"]
    say()
    say(f"workflow completed in {elapsed:.1f}s")
    say("--- report ---")
    say(report)
    say("--------------")
    problems = find_repeats(recorded, recorded_at_kill, done, worker_a.pid)
    if problems:
        for problem in problems:
            say(f"STEP REPEATED: {problem}")
        return 1
    retried = sorted({e.step for e in entries if e.attempt > 1})
    note = (f" (step {', '.join(map(str, retried))}, cut off by the kill, was retried by "
            "worker B)" if retried else "")
    say(f"no step repeated: {STEPS} steps, {len(done)} completed calls in the journal, "
        f"{len(recorded)} results in the history, each recorded once{note}")
    return 0


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="stalwart-demo-") as workdir:
        sys.exit(asyncio.run(run_demo(Path(workdir))))


if __name__ == "__main__":
    main()
