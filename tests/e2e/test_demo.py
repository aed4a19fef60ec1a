"""The README's first command: the demo must run offline, kill a worker, and prove no repeats."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from examples.research_agent.agent import STEPS
from examples.research_agent.demo import find_repeats
from examples.research_agent.trace import Entry

from ._harness import REPO_ROOT

# A liveness bound; the demo itself takes a few seconds.
DEMO_SECONDS = 60.0


async def test_demo_kills_worker_and_finishes_without_repeating_a_step() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "examples.research_agent.demo", cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), DEMO_SECONDS)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = out.decode()
    assert proc.returncode == 0, output
    assert "*** SIGKILL worker A" in output, output
    assert output.rstrip().splitlines()[-1].startswith("no step repeated: 6 steps"), output


def _entry(step: int, attempt: int, pid: int) -> Entry:
    return Entry("done", step, attempt, pid, "search_sources", "")


def _recorded(steps: range, attempt: int, pid: int) -> list[tuple[int, dict[str, Any]]]:
    return [(step, {"attempt": attempt, "identity": f"{pid}@host"}) for step in steps]


def test_demo_find_repeats_accepts_clean_run() -> None:
    done = [_entry(step, 1, 10) for step in range(1, STEPS + 1)]
    assert find_repeats(_recorded(range(1, STEPS + 1), 1, 10), {1, 2, 3}, done, 10) == []


def test_demo_find_repeats_flags_step_run_after_its_result_was_recorded() -> None:
    done = [_entry(step, 1, 10) for step in range(1, STEPS + 1)] + [_entry(2, 2, 20)]
    problems = find_repeats(_recorded(range(1, STEPS + 1), 1, 10), {1, 2, 3}, done, 10)
    assert any("step 2" in problem for problem in problems)


def test_demo_find_repeats_flags_result_recorded_twice() -> None:
    done = [_entry(step, 1, 10) for step in range(1, STEPS + 1)]
    recorded = _recorded(range(1, STEPS + 1), 1, 10) + _recorded(range(5, 6), 1, 10)
    assert find_repeats(recorded, set(), done, 10) == [
        "step 5: 2 results in the history, 1 completed calls"]
