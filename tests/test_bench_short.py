"""The benchmark suite's short mode runs every workload and reports the documented metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.postgres import require_server

REPO_ROOT = Path(__file__).resolve().parent.parent

EXPECTED_KEYS = {
    "floor": {"ms_per_commit", "commits_per_s"},
    "B1_latency": {"runs", "p50_ms", "p99_ms"},
    "B2_throughput": {"workflows", "wall_s", "activities_per_s"},
    "B3_fanout": {"activities", "wall_s"},
    "B4_recovery": {"restart_to_resume_s", "restart_to_complete_s",
                    "completed_activities_rerun"},
    "B5_parked": {"workflows", "worker_rss_parked_mib", "signal_to_all_complete_s"},
    "B6_long_history": {"activities", "total_s", "ms_per_activity", "replay_ms"},
    "SCALE_processes": {"p1_activities_per_s", "p2_activities_per_s", "p4_activities_per_s",
                        "p4_worker_cpu_ms_per_activity", "p4_claim_tx_activity_empty_per_activity",
                        "p4_wakeups_per_activity"},
    "AGENT_load": {"workflows", "wall_s", "steps_per_s", "finish_overhead_p99_s"},
    "AGENT_processes": {"p1_wall_s", "p2_wall_s", "p4_wall_s", "p4_worker_rss_peak_mib"},
    "KILL_handover": {"same_host_p50_s", "same_host_p99_s", "other_host_p50_s",
                      "other_host_p99_s"},
    "CONV_growth": {"message_bytes", "conversations", "final_store_ratio"},
}
# PostgreSQL only.
POSTGRES_KEYS = {
    "PG_step_cost": {"sequential_one_activity", "concurrent_many_activities"},
}
COMMON_KEYS = {"workload", "store", "python", "stalwart"}


def test_bench_short_run_reports_every_workload(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--workload", "all", "--store", "sqlite",
         "--short", "--json", "--dir", str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    by_name = {line["workload"]: line for line in lines}
    assert set(by_name) == set(EXPECTED_KEYS)
    for name, keys in EXPECTED_KEYS.items():
        line = by_name[name]
        missing = (keys | COMMON_KEYS) - set(line)
        assert not missing, f"{name} lacks {missing}: {line}"
        assert line["store"] == "sqlite"
        assert "error" not in line
    # Recovery must not re-run activities whose results were already recorded.
    assert by_name["B4_recovery"]["completed_activities_rerun"] == 0
    assert by_name["CONV_growth"]["final_store_ratio"] <= 3


def test_bench_short_suite_runs_on_postgres() -> None:
    url = require_server()
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--workload", "all", "--store", "postgres",
         "--short", "--json"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "STALWART_BENCH_POSTGRES_URL": url})
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    expected = (set(EXPECTED_KEYS) | set(POSTGRES_KEYS)) - {"floor"}
    assert {line["workload"] for line in lines} == expected
    assert all(line["store"] == "postgres" and "error" not in line for line in lines)
    by_name = {line["workload"]: line for line in lines}
    for name, keys in POSTGRES_KEYS.items():
        assert keys <= set(by_name[name]), by_name[name]
    step = by_name["PG_step_cost"]["concurrent_many_activities"]
    assert step["statements_per_activity"] > 0 and step["round_trips_per_activity"] > 0
    assert by_name["B4_recovery"]["completed_activities_rerun"] == 0
