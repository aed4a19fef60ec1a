"""docs/compatibility.md matches what scripts/compat generates from the pinned temporalio.

Runs only where ``.venv-compat`` exists (``scripts/compat`` creates it); ``scripts/test`` never
creates it, so the suite does not depend on temporalio.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPAT_PYTHON = ROOT / ".venv-compat" / "bin" / "python"


@pytest.mark.skipif(not COMPAT_PYTHON.exists(),
                    reason=".venv-compat is missing; run scripts/compat to create it")
def test_compatibility_table_is_up_to_date() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([str(COMPAT_PYTHON), str(ROOT / "scripts" / "compat_table.py"),
                           "--check"], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)
    assert done.returncode == 0, (
        f"docs/compatibility.md is stale; regenerate it with scripts/compat\n{done.stderr}")
