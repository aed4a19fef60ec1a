"""Writes docs/compatibility.md: temporalio's public API, name by name, against Stalwart's.

Run through ``scripts/compat`` (it provides the pinned temporalio in ``.venv-compat``);
``scripts/compat --check`` exits 1 when the committed table is stale.

For each module the public names are ``__all__`` where the module defines it, else the names
its source defines at top level (imports excluded). Classes present on both sides are compared
member by member (methods, properties, fields and enum members defined by the library itself,
not those inherited from Python's own classes). Statuses come from presence, unless the
hand-kept ``EXPLICIT`` and ``PATTERNS`` tables below say otherwise.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "compatibility.md"

MODULES = [
    "workflow", "activity", "client", "worker", "common", "exceptions", "converter", "testing",
    "plugin", "contrib.openai_agents", "contrib.openai_agents.workflow",
    "contrib.openai_agents.testing", "contrib.pydantic", "contrib.opentelemetry",
    "contrib.workflow_streams", "runtime", "service", "envconfig", "worker.workflow_sandbox",
    "openai_agents",
]

SUPPORTED, NOT_YET, WILL_NOT = "supported", "not yet", "will not"

NO_SANDBOX = "no import sandbox: Stalwart checks determinism while the workflow runs"
STREAM_WIRE = ("the wire types of temporalio's signal/update transport: Stalwart keeps stream "
               "items in its store (docs/streams.md)")
AGENT_SANDBOX = "Agents SDK sandbox agents (remote sandboxes) are not supported"
NO_SERVER = ("no gRPC service layer: `Client.connect` takes a store URL, so there is no server "
             "connection to configure (TLS, keep-alive, proxies, retries, RPC metadata)")
NO_CLOUD = "Temporal Cloud operations: there is no cloud service behind a store"
NO_VERSIONING = ("worker deployments and build-id versioning: workers of one store share one "
                 "code version; use `workflow.patched` for changes")
NO_NEXUS = "Nexus (cross-namespace operations): not for now"
NO_RUNNER = ("no pluggable workflow runner: Stalwart runs workflow code one way, on its "
             "deterministic event loop")

NO_POLLING = ("workers claim tasks from the store: there are no polls to size or shape and "
              "no sticky queues")
RETRIED = ("recorded (the run's started event, `workflow.info().retry_policy`) and followed "
           "as Temporal's server does: a failed or run-timed-out run is retried")
NO_DEBUG_MODE = ("the replayer runs no deadlock detector and no sandbox, so there is nothing "
                 "to switch off")
NO_UNSAFE_EVICTION = ("eviction always closes a workflow's coroutines on the worker's own "
                      "loop; there is no thread to leave them to the garbage collector from")
NO_TASK_EXECUTOR = "workflow tasks run on the worker's event loop, not in a thread pool"
NO_PROTOS = "Stalwart has no Temporal API protos: the policy is stored as JSON"
EVENT_GROUPS_INPUT = ("the command's own groups, checked after the interceptors (the "
                      "enclosing scopes' are added then); not yet recorded in history")

# Hand-kept: (module, name or Class.member) -> (status or None to keep the computed one, note).
EXPLICIT: dict[tuple[str, str], tuple[str | None, str]] = {
    ("workflow", "unsafe.imports_passed_through"): (
        SUPPORTED, "no-op: there is no sandbox to pass imports through"),
    ("workflow", "unsafe.sandbox_unrestricted"): (
        SUPPORTED, "no-op: there is no sandbox to lift restrictions of"),
    ("workflow", "unsafe.is_sandbox_unrestricted"): (WILL_NOT, NO_SANDBOX),
    ("workflow", "unsafe.current_import_notification_policy_override"): (WILL_NOT, NO_SANDBOX),
    ("workflow", "unsafe.is_imports_passed_through"): (
        None, "true inside `imports_passed_through()`, which does nothing else"),
    ("workflow", "signal_with_start_workflow"): (
        WILL_NOT, "a Nexus system operation in temporalio; " + NO_NEXUS),
    ("workflow", "EventGroup"): (
        None, "recorded in history as Temporal records them (`eventGroupMarkers` on each "
        "command's event)"),
    ("workflow", "DynamicWorkflowConfig"): (
        None, "`versioning_behavior` is accepted; Stalwart has no worker versioning"),
    ("workflow", "defn"): (None, "`sandboxed=` is accepted and ignored"),
    ("workflow", "NondeterminismError"): (
        None, "raised with the recorded and the new command named"),
    ("client", "Client.connect"): (
        SUPPORTED, "different: takes a store URL (`sqlite:///path.db`), not a server address"),
    ("client", "Client.service_client"): (WILL_NOT, NO_SERVER),
    ("client", "Client.workflow_service"): (WILL_NOT, NO_SERVER),
    ("client", "Client.operator_service"): (WILL_NOT, NO_SERVER),
    ("client", "Client.test_service"): (WILL_NOT, NO_SERVER),
    ("client", "Client.api_key"): (WILL_NOT, NO_SERVER),
    ("client", "Client.rpc_metadata"): (WILL_NOT, NO_SERVER),
    ("client", "RPCError"): (None, "raised where Temporal's server answers with an RPC error "
                                   "(e.g. `NOT_FOUND` for a closed or unknown workflow)"),
    ("converter", "PayloadCodec"): (None, "applied to every payload the store keeps"),
    ("testing", "WorkflowEnvironment"): (
        None, "local environments run on a temporary SQLite file"),
    ("testing", "TimeSkipper"): (
        None, "one clock shared by the client and the workers built from it, not one per "
              "workflow; build workers from `skipper.client`; `get_time_skipping_info` "
              "returns a dataclass with the proto's field names"),
    ("testing", "TimeSkippingConfig"): (
        None, "`disable_propagation` has no effect: children share the skipper's clock"),
    ("testing", "WorkflowEnvironment.start_time_skipping_v2"): (
        None, "one clock for the environment: a workflow that skips moves the timers of "
              "the others too"),
    ("worker", "UnsandboxedWorkflowRunner"): (None, "the only way Stalwart runs workflows"),
    ("worker", "StartLocalActivityInput"): (None, "the same type as `StartActivityInput`"),
    ("worker", "CustomSlotSupplier"): (
        None, "called before each claim; the activity supplier also covers local activities "
              "(they run as activity tasks); eager starts are off under a custom supplier"),
    ("worker", "SlotReserveContext"): (
        None, "a dataclass; `worker_build_id` is \"\" and nothing is sticky"),
    ("common", "Priority"): (None, "`priority_key` orders task claiming; `fairness_key` and "
                                   "`fairness_weight` are accepted, not yet applied"),
    ("workflow", "register_random_seed_callback"): (
        None, "called when a run made by a reset reaches the reset point, as in Temporal"),
    ("workflow", "extern_functions"): (WILL_NOT, NO_SANDBOX),
    ("converter", "JSONProtoPayloadConverter"): (None, "needs the `protobuf` extra"),
    ("converter", "BinaryProtoPayloadConverter"): (None, "needs the `protobuf` extra"),
    ("converter", "WithSerializationContext"): (
        None, "the worker and client bind payload and failure converters to temporalio's "
              "contexts; payload codecs are not given one (a run's history decodes with one "
              "codec)"),
    ("converter", "encode_search_attributes"): (
        None, "takes the `indexed_fields` mapping (name -> Payload) in place of the proto"),
    ("contrib.opentelemetry", "OpenTelemetryPlugin"): (
        None, "no sandbox to pass `opentelemetry` through"),
    ("contrib.opentelemetry", "MetricsExporter"): (
        None, "drains a `stalwart.runtime.MetricBuffer`: Stalwart's metrics and `MetricMeter`'s"),
    ("contrib.opentelemetry", "TracingWorkflowInboundInterceptor"): (
        None, "the workflow side of `TracingInterceptor`"),
    ("client", "WithStartWorkflowOperation"): (
        None, "the start commits first, then the update (two steps, not one call)"),
    ("worker", "WorkerTuner"): (None, "fixed and resource-based suppliers become the worker's "
                                      "concurrency limits; custom ones are called per task"),
    ("contrib.pydantic", "pydantic_data_converter"): (
        None, "needs the `pydantic` extra"),
    ("client", "ClientConfig.service_client"): (
        WILL_NOT, "the config holds the `store` instead of a service client"),
    ("client", "ConnectConfig.identity"): (None, "Stalwart's ConnectConfig: `target_url`, "
                                                 "`identity`"),
    ("client", "Plugin.connect_service_client"): (
        None, "wraps opening the store (`ConnectConfig.target_url`), not a server connection"),
    ("plugin", "SimplePlugin"): (
        None, "`workflow_runner` is kept in the config but has no effect (no sandbox); "
              "Nexus handlers are refused"),
    ("contrib.workflow_streams", "PollInput"): (WILL_NOT, STREAM_WIRE),
    ("contrib.workflow_streams", "PollResult"): (WILL_NOT, STREAM_WIRE),
    ("contrib.workflow_streams", "PublishEntry"): (WILL_NOT, STREAM_WIRE),
    ("contrib.workflow_streams", "PublishInput"): (WILL_NOT, STREAM_WIRE),
    ("contrib.workflow_streams", "PublisherState"): (WILL_NOT, STREAM_WIRE),
    ("contrib.workflow_streams", "WorkflowStreamState"): (
        WILL_NOT, "nothing to carry across continue-as-new: the stream belongs to the chain"),
    ("contrib.workflow_streams", "WorkflowStream"): (
        None, "items are stored, not kept in workflow state: nothing is handed across "
              "continue-as-new (`get_state()` is None)"),
    ("contrib.workflow_streams", "WorkflowStream.truncate"): (
        NOT_YET, "items are deleted with the run that published them"),
    ("contrib.workflow_streams", "WorkflowStreamClient"): (
        None, "reads and appends in the store; `batch_interval` defaults to 50 ms"),
    ("contrib.openai_agents", "OpenAIAgentsPlugin"): (
        None, "tracing is off inside workflows"),
    ("contrib.openai_agents", "OpenAIAgentsPlugin.tracing_context"): (
        WILL_NOT, "Agents SDK tracing is off inside Stalwart workflows"),
    ("contrib.openai_agents", "temporal_worker_env_ref"): (
        None, "resolved in `HostedMCPTool` and `CodeInterpreterTool` configurations; Stalwart "
              "does not pass `ShellTool` to the model activity"),
    ("contrib.openai_agents", "TemporalWorkerEnvValue"): (
        WILL_NOT, "a sandbox manifest's value; " + AGENT_SANDBOX),
    ("contrib.openai_agents", "ModelActivityParameters"): (
        None, "streaming needs no `streaming_topic` (it labels events); versioning_intent "
              "and priority are accepted and ignored"),
    ("contrib.openai_agents.workflow", "temporal_mcp_server"): (
        None, "with `OpenAIAgentsPlugin(mcp_servers={name: factory})`; resources too"),
    ("contrib.openai_agents.workflow", "temporal_sandbox_client"): (WILL_NOT, AGENT_SANDBOX),
    ("contrib.openai_agents", "SandboxClientProvider"): (WILL_NOT, AGENT_SANDBOX),
    ("contrib.openai_agents.workflow", "nexus_operation_as_tool"): (
        WILL_NOT, "Stalwart has no Nexus; use activity_as_tool"),
    ("runtime", "OpenTelemetryConfig"): (
        None, "exports over OTLP (gRPC, or HTTP with `http=True`) through the OpenTelemetry "
              "SDK's exporters, extra `stalwart[otlp]`"),
    ("runtime", "PrometheusConfig"): (
        None, "serves the process's metrics on `bind_address`; names keep `_total` and "
              "`_seconds` whatever the suffix options say; bucket overrides are not applied"),
    ("runtime", "MetricBuffer"): (
        None, "receives every metric update of the process from its runtime's creation on"),
    ("runtime", "LoggingConfig"): (
        None, "accepted: Stalwart logs through Python `logging`, there are no Core logs"),
    ("runtime", "LogForwardingConfig"): (
        None, "accepted: Stalwart's logs are Python logs already (`stalwart.*` loggers)"),
    ("runtime", "TelemetryConfig"): (
        None, "`metric_prefix` and `global_tags` apply to buffered updates; "
              "`attach_service_name` is accepted"),
    ("runtime", "Runtime"): (
        None, "only telemetry: `worker_heartbeat_interval` is checked and otherwise ignored "
              "(workers heartbeat into the store)"),
    ("worker", "ReplayerConfig.runtime"): (
        WILL_NOT, "replaying records no metrics, so there is no telemetry to route"),
    ("contrib.openai_agents.testing", "TestModel.stream_response"): (
        None, "raises, as in Temporal's; streamed runs are tested against an HTTP stand-in"),
    **{("worker", f"WorkerConfig.{key}"): (WILL_NOT, NO_POLLING) for key in (
        "activity_task_poller_behavior", "workflow_task_poller_behavior",
        "max_concurrent_workflow_task_polls", "max_concurrent_activity_task_polls",
        "nonsticky_to_sticky_poll_ratio", "sticky_queue_schedule_to_start_timeout")},
    ("worker", "ReplayerConfig.debug_mode"): (WILL_NOT, NO_DEBUG_MODE),
    **{("worker", f"{config}.disable_safe_workflow_eviction"): (WILL_NOT, NO_UNSAFE_EVICTION)
       for config in ("WorkerConfig", "ReplayerConfig")},
    **{("worker", f"{config}.workflow_task_executor"): (WILL_NOT, NO_TASK_EXECUTOR)
       for config in ("WorkerConfig", "ReplayerConfig")},
    ("worker", "WorkerConfig.max_concurrent_local_activities"): (
        WILL_NOT, "local activities run as activity tasks and take the worker's activity "
                  "slots (`max_concurrent_activities`)"),
    ("worker", "WorkerConfig.disable_payload_error_limit"): (
        WILL_NOT, "the store is what refuses an oversized payload (`STALWART_MAX_PAYLOAD_BYTES`); "
                  "there is no separate worker-side check to switch off"),
    ("worker", "WorkerConfig.no_remote_activities"): (
        NOT_YET, "a local activity that finds no free slot waits in the queue like an ordinary "
                 "one, so a worker that never claims from the queue could strand it; needs a "
                 "claim of local activities only"),
    ("worker", "WorkerConfig.shared_state_manager"): (SUPPORTED, ""),
    ("worker", "SharedStateManager"): (SUPPORTED, ""),
    ("worker", "SharedHeartbeatSender"): (SUPPORTED, ""),
    ("worker", "WorkerConfig.max_eager_activity_reservations_per_workflow_task"): (
        None, "caps the non-local activities of one workflow task that start on this worker "
              "at once; by default only the free activity slots cap them (Temporal's "
              "default is 3)"),
    ("worker", "WorkerConfig.max_activities_per_second"): (
        None, "this worker's own limit (a token bucket of one second's starts); activities "
              "then start only through the queue, never eagerly"),
    ("worker", "WorkerConfig.patch_activation_callback"): (
        None, "asked at a patch's first call outside replay, read-only"),
    ("worker", "WorkerConfig.on_fatal_error"): (
        None, "called when one of the worker's loops fails; the worker then shuts down and "
              "`run()` raises the error"),
    **{("worker", f"{cls}.local_retry_threshold"): (
        None, "checked and kept; local activities retry as ordinary ones do (a durable "
              "backoff every time), so it changes nothing") for cls in (
        "StartActivityInput", "StartLocalActivityInput")},
    **{("worker", f"{cls}.event_groups"): (None, EVENT_GROUPS_INPUT) for cls in (
        "StartActivityInput", "StartLocalActivityInput", "StartChildWorkflowInput",
        "SignalChildWorkflowInput", "SignalExternalWorkflowInput")},
    ("worker", "StartActivityInput.disable_eager_execution"): (
        None, "the worker's `disable_eager_activity_execution`; true keeps the activity off "
              "this worker's eager start (it is claimed from the queue)"),
    ("worker", "StartChildWorkflowInput.retry_policy"): (None, RETRIED),
    ("worker", "StartChildWorkflowInput.static_summary"): (
        None, "the child's `describe()` reports it"),
    ("worker", "StartChildWorkflowInput.static_details"): (
        None, "the child's `describe()` reports it"),
    ("worker", "WorkflowOutboundInterceptor.start_signal_with_start_workflow"): (
        WILL_NOT, "a Nexus system operation in temporalio; " + NO_NEXUS),
    ("client", "StartWorkflowInput.retry_policy"): (None, RETRIED),
    ("client", "UpdateWithStartStartWorkflowInput.retry_policy"): (None, RETRIED),
    ("client", "ScheduleActionStartWorkflow.retry_policy"): (None, RETRIED),
    ("client", "StartWorkflowInput.request_eager_start"): (
        None, "False keeps the first workflow task off this process; by default (None) a "
              "worker of the client runs it at once when it can, which Stalwart always did"),
    ("client", "UpdateWithStartStartWorkflowInput.cron_schedule"): (
        None, "refused, as Temporal's server refuses a cron update-with-start"),
    ("client", "UpdateWithStartStartWorkflowInput.start_delay"): (
        None, "refused, as Temporal's server refuses a delayed update-with-start"),
    ("client", "WorkflowExecution.raw_info"): (
        None, "the store's `ExecutionRow` for the run, not a proto"),
    ("client", "WorkflowExecutionDescription.raw_info"): (
        None, "the store's `ExecutionRow` for the run, not a proto"),
    ("client", "WorkflowExecutionDescription.raw_description"): (
        WILL_NOT, "no describe response message: `describe()` reads the store"),
    ("client", "WorkflowExecutionAsyncIterator.next_page_token"): (
        None, "an opaque token of Stalwart's (the listing's offset)"),
    ("client", "WorkflowHistoryEventAsyncIterator.next_page_token"): (
        None, "an opaque token of Stalwart's (the history's offset)"),
    ("envconfig", "ClientConfigProfile"): (
        None, "`address` may be a store URL (`sqlite:///...`, `postgresql://...`); a Temporal "
              "address names no store, so `STALWART_URL` or `./stalwart.db` is used"),
    ("envconfig", "ClientConfigTLS"): (
        None, "read and handed over; `to_connect_tls_config()` returns a bool (there is no "
              "`TLSConfig`, and no server connection for it)"),
    ("worker.workflow_sandbox", "SandboxedWorkflowRunner"): (
        None, "accepted; runs workflows as `UnsandboxedWorkflowRunner` does (no sandbox)"),
    ("worker.workflow_sandbox", "SandboxRestrictions"): (
        None, "kept as given and never applied: nothing is restricted or passed through"),
    ("worker.workflow_sandbox", "SandboxMatcher"): (None, "kept as given and never applied"),
    ("worker.workflow_sandbox", "RestrictedWorkflowAccessError"): (
        None, "never raised: the determinism guard raises its own errors"),
    ("service", "LOG_PROTOS"): (WILL_NOT, "a switch for logging the gRPC layer's messages; "
                                          + NO_SERVER),
    ("service", "logger"): (WILL_NOT, "the gRPC layer's logger; " + NO_SERVER),
    ("common", "RetryPolicy.apply_to_proto"): (WILL_NOT, NO_PROTOS),
    ("common", "RetryPolicy.from_proto"): (WILL_NOT, NO_PROTOS),
    ("common", "TypedSearchAttributes.search_attributes"): (
        None, "in the order given (temporalio sorts them by name)"),
}

# Hand-kept: applied, in order, to names Stalwart does not have.
PATTERNS: list[tuple[str, str, str]] = [
    (r"^(ConnectConfig|ClientConnectConfig)(\.|$)", WILL_NOT, NO_SERVER),
    (r"(?i)sandbox", WILL_NOT, NO_SANDBOX),
    (r"(?i)(^|\.)(TLSConfig|KeepAliveConfig|HttpConnectProxyConfig|RetryConfig|ConnectConfig"
     r"|ServiceClient|.*Service|service_client|.*_service|rpc_metadata|rpc_timeout|api_key"
     r"|tls|keep_alive_config|http_connect_proxy_config|retry_config|lazy"
     r"|header_codec_behavior|HeaderCodecBehavior)$", WILL_NOT, NO_SERVER),
    (r"(?i)(^|\.)(DnsLoadBalancingConfig|GrpcCompression|ClientConnectConfig)$", WILL_NOT,
     NO_SERVER),
    (r"(?i)cloud", WILL_NOT, NO_CLOUD),
    (r"(?i)nexus|^Callback$", WILL_NOT, NO_NEXUS),
    (r"^(WorkflowInstance|WorkflowInstanceDetails)$", WILL_NOT, NO_RUNNER),
    (r"^(Activity(Execution|Options|Handle|IDReference|FailureError|SerializationContext)\w*"
     r"|(Start|Cancel|Terminate|Describe|Pause|Unpause|List|Count)Activit\w*Input"
     r"|UpdateActivityOptionsInput)$", NOT_YET, "activities started from a client"),
    (r"(?i)(storage|payloadlimits)", NOT_YET, "payloads kept outside the store"),
    (r"(?i)serializationcontext", NOT_YET, "serialization contexts"),
    (r"(?i)(versioning|deployment|build_?id|VersioningOverride|PinnedVersioning"
     r"|AutoUpgradeVersioning|TaskReachability|Reachability|WorkerVersion)", WILL_NOT,
     NO_VERSIONING),
    (r"(?i)schedule", NOT_YET, "schedules"),
    (r"(?i)interceptor", NOT_YET, "interceptors"),
    (r"(?i)(metric|telemetry)", NOT_YET, "metrics"),
]


@dataclass
class Row:
    name: str
    status: str
    note: str


def _source_definitions(path: Path) -> list[str]:
    """Public names a module's source defines at top level, imports left out."""
    names: list[str] = []
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and \
                    value.func.id in ("TypeVar", "ParamSpec", "TypeVarTuple"):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.extend(t.id for t in targets if isinstance(t, ast.Name))
        elif type(node).__name__ == "TypeAlias":  # `type X = ...`, Python 3.12 and later
            names.append(node.name.id)  # type: ignore[attr-defined]
    return [n for n in names if not n.startswith("_")]


def _static_all(path: Path) -> list[str] | None:
    """``__all__`` read from source, for a module whose optional dependencies are missing."""
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = ast.literal_eval(node.value)
            return [str(v) for v in value]
    return None


@dataclass
class Side:
    present: bool
    names: list[str]
    module: ModuleType | None


def _load(package: str, name: str) -> Side:
    full = f"{package}.{name}"
    try:
        spec = importlib.util.find_spec(full)
    except ModuleNotFoundError:
        spec = None
    if spec is None or spec.origin is None:
        return Side(False, [], None)
    path = Path(spec.origin)
    try:
        module = importlib.import_module(full)
    except ImportError:
        # Optional dependencies missing: read what the source declares.
        exported = _static_all(path)
        names = exported if exported is not None else _source_definitions(path)
        return Side(True, sorted(n for n in names if not n.startswith("_")), None)
    exported = getattr(module, "__all__", None)
    if exported is not None:
        # temporalio.workflow's __all__ lists some private names for its own modules' sake.
        return Side(True, sorted(str(n) for n in exported if not str(n).startswith("_")),
                    module)
    names = _source_definitions(path) or _star_reexports(path, module)
    return Side(True, sorted(names), module)


def _star_reexports(path: Path, module: ModuleType) -> list[str]:
    """For a shim that only does ``from other import *`` (temporalio.contrib.openai_agents'
    submodules forward to temporalio.openai_agents): the names ``other`` itself defines."""
    sources = [node.module for node in ast.parse(path.read_text(), str(path)).body
               if isinstance(node, ast.ImportFrom) and node.module
               and any(alias.name == "*" for alias in node.names)]
    return [name for name, value in vars(module).items() if not name.startswith("_")
            and getattr(value, "__module__", None) in sources]


def _members(cls: type, root: str) -> set[str]:
    """Public members the library itself defines on ``cls`` or its library bases."""
    found: set[str] = set()
    for klass in cls.__mro__:
        if not getattr(klass, "__module__", "").startswith(root):
            continue
        found.update(klass.__dict__)
        found.update(getattr(klass, "__annotations__", {}))
        if dataclasses.is_dataclass(klass):
            found.update(f.name for f in dataclasses.fields(klass))
    return {n for n in found if not n.startswith("_")}


def _status(module: str, name: str, present: bool) -> tuple[str, str]:
    status = SUPPORTED if present else NOT_YET
    note = ""
    if not present:
        for pattern, pattern_status, pattern_note in PATTERNS:
            if re.search(pattern, name):
                status, note = pattern_status, pattern_note
                break
    explicit = EXPLICIT.get((module, name))
    if explicit is not None:
        status = explicit[0] or status
        note = explicit[1]
    return status, note


def compare(name: str) -> tuple[Side, list[Row]]:
    theirs = _load("temporalio", name)
    ours = _load("stalwart", name)
    rows: list[Row] = []
    our_names = set(ours.names)
    for public in theirs.names:
        rows.append(Row(public, *_status(name, public, public in our_names)))
        if theirs.module is None or ours.module is None or public not in our_names:
            continue
        their_obj = getattr(theirs.module, public, None)
        our_obj = getattr(ours.module, public, None)
        if not (inspect.isclass(their_obj) and inspect.isclass(our_obj)):
            continue
        our_members = _members(our_obj, "stalwart")
        for member in sorted(_members(their_obj, "temporalio")):
            qualified = f"{public}.{member}"
            rows.append(Row(qualified, *_status(name, qualified, member in our_members)))
    return theirs, rows


def _share(counts: dict[str, int]) -> str:
    considered = counts[SUPPORTED] + counts[NOT_YET]
    return f"{100 * counts[SUPPORTED] / considered:.0f}%" if considered else "n/a"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(temporalio_version: str) -> str:
    out = [
        "# Compatibility with the temporalio Python SDK",
        "",
        "<!-- Generated by scripts/compat; do not edit by hand. -->",
        "",
        f"Generated by `scripts/compat` from temporalio {temporalio_version} (pinned in "
        "`requirements-compat.txt`); do not edit by hand. Regenerate with `scripts/compat`, "
        "check with `scripts/compat --check` (exits 1 when this file is stale). Both install "
        "temporalio into their own `.venv-compat`; Stalwart itself never imports it, and "
        "`scripts/test` does not run the check (`tests/docs/test_compatibility_table.py` runs it "
        "only where `.venv-compat` exists).",
        "",
        "For each module: every public name of `temporalio.X` (its `__all__`, else the names its "
        "source defines), and for classes both libraries have, each public member as "
        "`Class.member`. **supported**: Stalwart has it under the same name (a note says where "
        "it differs); **not yet**: missing, may come; **will not**: missing by design.",
        "",
        "Counts are of public top-level names; the share leaves out the names that will not "
        "be supported. Class members are listed and counted separately.",
        "",
        "| module | supported | not yet | will not | share supported | members supported |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    sections: list[str] = []
    for name in MODULES:
        theirs, rows = compare(name)
        if not theirs.present:
            continue
        names = [r for r in rows if "." not in r.name]
        members = [r for r in rows if "." in r.name]
        counts = {s: sum(r.status == s for r in names) for s in (SUPPORTED, NOT_YET, WILL_NOT)}
        member_counts = {s: sum(r.status == s for r in members)
                         for s in (SUPPORTED, NOT_YET, WILL_NOT)}
        share = _share(counts)
        out.append(f"| `{name}` | {counts[SUPPORTED]} | {counts[NOT_YET]} | "
                   f"{counts[WILL_NOT]} | {share} | {member_counts[SUPPORTED]} of "
                   f"{len(members) - member_counts[WILL_NOT]} |")
        sections += [
            "", f"## temporalio.{name}", "",
            f"{counts[SUPPORTED]} of {len(names) - counts[WILL_NOT]} public names supported "
            f"({share}); {counts[WILL_NOT]} will not be. Members of classes both have: "
            f"{member_counts[SUPPORTED]} of {len(members) - member_counts[WILL_NOT]} supported, "
            f"{member_counts[WILL_NOT]} will not be.", "",
            "| name | status | note |", "| --- | --- | --- |",
        ]
        sections += [f"| `{_cell(r.name)}` | {r.status} | {_cell(r.note)} |" for r in rows]
    return "\n".join(out + sections) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/compatibility.md is not what would be written")
    args = parser.parse_args(argv)
    text = render(importlib.metadata.version("temporalio"))
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run scripts/compat", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is up to date")
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
