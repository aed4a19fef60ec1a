"""An agent workflow in a newly started process: the Agents SDK makes its trace provider
lazily, on first use, and must not make it inside workflow code (its HTTP exporter imports
modules that read files, which the determinism guard refuses). Temporal's samples run this
way; a test process that has used the SDK before hides the problem, hence the subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stalwart.agents.testing import FakeLLMServer, Reply

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("fresh_process_agent.py")


def test_an_agent_runs_in_a_fresh_worker_process_with_the_default_provider(
        tmp_path: Path) -> None:
    with FakeLLMServer() as server:
        server.script(Reply(text="Functions call themselves / until the base case"))
        env = {**os.environ, "OPENAI_BASE_URL": server.openai_base_url,
               "OPENAI_API_KEY": "k",
               "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])}
        done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "stalwart.db")],
                              capture_output=True, text=True, timeout=150, env=env,
                              cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == \
        "Functions call themselves / until the base case"
