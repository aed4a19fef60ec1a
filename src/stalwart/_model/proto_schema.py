"""The shape of Temporal's history messages, as much of it as reading an event needs.

A history event's attributes are kept in proto3 JSON form (``temporal_history``); what
temporalio code reads is the protobuf message (``event.activity_task_scheduled_event_attributes
.activity_type.name``, ``attributes.attempt``, an unset field's default). Reading JSON as the
message needs each field's kind: an int64 is a JSON string, an enum is a name, an unset
message is an empty one, an unset number is 0. This table gives the kinds, one line per
message: ``Message: field field=kind ...``; a field without ``=`` is a string, ``[]kind`` is a
repeated field and ``{}kind`` a map from strings. Kinds are the scalars below, ``Timestamp``,
``Duration``, ``Payload``, an enum of ``proto_enums`` or another message of the table. The
field names are Temporal's (the JSON names are their lowerCamelCase); the table is checked
against temporalio's own descriptors by ``tests/unit/test_proto_view.py``.

Messages of features Stalwart does not have (Nexus, worker deployments, callbacks) are left
out; their fields read as missing attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

SCALARS = frozenset({"str", "i64", "i32", "u32", "bool", "f64", "f32", "bytes"})

_TABLE = """
WorkflowType: name
ActivityType: name
WorkflowExecution: workflow_id run_id
TaskQueue: name kind=TaskQueueKind normal_name
Payloads: payloads=[]Payload
Header: fields={}Payload
Memo: fields={}Payload
SearchAttributes: indexed_fields={}Payload
RetryPolicy: initial_interval=Duration backoff_coefficient=f64 maximum_interval=Duration \
    maximum_attempts=i32 non_retryable_error_types=[]str
Priority: priority_key=i32 fairness_key fairness_weight=f32
WorkerVersionStamp: build_id use_versioning=bool
UserMetadata: summary=Payload details=Payload
ResetPointInfo: build_id binary_checksum run_id first_workflow_task_completed_id=i64 \
    create_time=Timestamp expire_time=Timestamp resettable=bool
ResetPoints: points=[]ResetPointInfo
Failure: message source stack_trace encoded_attributes=Payload cause=Failure \
    application_failure_info=ApplicationFailureInfo timeout_failure_info=TimeoutFailureInfo \
    canceled_failure_info=CanceledFailureInfo terminated_failure_info=TerminatedFailureInfo \
    server_failure_info=ServerFailureInfo reset_workflow_failure_info=ResetWorkflowFailureInfo \
    activity_failure_info=ActivityFailureInfo \
    child_workflow_execution_failure_info=ChildWorkflowExecutionFailureInfo
ApplicationFailureInfo: type non_retryable=bool details=Payloads next_retry_delay=Duration \
    category=ApplicationErrorCategory
TimeoutFailureInfo: timeout_type=TimeoutType last_heartbeat_details=Payloads
CanceledFailureInfo: details=Payloads identity
TerminatedFailureInfo: identity
ServerFailureInfo: non_retryable=bool
ResetWorkflowFailureInfo: last_heartbeat_details=Payloads
ActivityFailureInfo: scheduled_event_id=i64 started_event_id=i64 identity \
    activity_type=ActivityType activity_id retry_state=RetryState
ChildWorkflowExecutionFailureInfo: namespace workflow_execution=WorkflowExecution \
    workflow_type=WorkflowType initiated_event_id=i64 started_event_id=i64 retry_state=RetryState
Meta: update_id identity
Input: header=Header name args=Payloads
Request: meta=Meta input=Input request_id
Outcome: success=Payloads failure=Failure
WorkflowTaskCompletedMetadata: core_used_flags=[]u32 lang_used_flags=[]u32 sdk_name sdk_version
MeteringMetadata: nonfirst_local_activity_execution_attempts=u32

WorkflowExecutionConfig: task_queue=TaskQueue workflow_execution_timeout=Duration \
    workflow_run_timeout=Duration default_workflow_task_timeout=Duration \
    user_metadata=UserMetadata
WorkflowExecutionInfo: execution=WorkflowExecution type=WorkflowType start_time=Timestamp \
    close_time=Timestamp status=WorkflowExecutionStatus history_length=i64 parent_namespace_id \
    parent_execution=WorkflowExecution execution_time=Timestamp memo=Memo \
    search_attributes=SearchAttributes auto_reset_points=ResetPoints task_queue \
    state_transition_count=i64 history_size_bytes=i64 execution_duration=Duration \
    root_execution=WorkflowExecution first_run_id priority=Priority
PendingActivityInfo: activity_id activity_type=ActivityType state=PendingActivityState \
    heartbeat_details=Payloads last_heartbeat_time=Timestamp last_started_time=Timestamp \
    attempt=i32 maximum_attempts=i32 scheduled_time=Timestamp expiration_time=Timestamp \
    last_failure=Failure last_worker_identity current_retry_interval=Duration \
    last_attempt_complete_time=Timestamp next_attempt_schedule_time=Timestamp paused=bool \
    priority=Priority
PendingChildExecutionInfo: workflow_id run_id workflow_type_name initiated_id=i64 \
    parent_close_policy=ParentClosePolicy
PendingWorkflowTaskInfo: state=PendingWorkflowTaskState scheduled_time=Timestamp \
    original_scheduled_time=Timestamp started_time=Timestamp attempt=i32
DescribeWorkflowExecutionResponse: execution_config=WorkflowExecutionConfig \
    workflow_execution_info=WorkflowExecutionInfo pending_activities=[]PendingActivityInfo \
    pending_children=[]PendingChildExecutionInfo pending_workflow_task=PendingWorkflowTaskInfo

WorkflowExecutionStartedEventAttributes: workflow_type=WorkflowType parent_workflow_namespace \
    parent_workflow_namespace_id parent_workflow_execution=WorkflowExecution \
    parent_initiated_event_id=i64 task_queue=TaskQueue input=Payloads \
    workflow_execution_timeout=Duration workflow_run_timeout=Duration \
    workflow_task_timeout=Duration continued_execution_run_id \
    initiator=ContinueAsNewInitiator continued_failure=Failure last_completion_result=Payloads \
    original_execution_run_id identity first_execution_run_id retry_policy=RetryPolicy \
    attempt=i32 workflow_execution_expiration_time=Timestamp cron_schedule \
    first_workflow_task_backoff=Duration memo=Memo search_attributes=SearchAttributes \
    prev_auto_reset_points=ResetPoints header=Header parent_initiated_event_version=i64 \
    workflow_id source_version_stamp=WorkerVersionStamp \
    root_workflow_execution=WorkflowExecution inherited_build_id priority=Priority \
    eager_execution_accepted=bool
WorkflowExecutionCompletedEventAttributes: result=Payloads workflow_task_completed_event_id=i64 \
    new_execution_run_id
WorkflowExecutionFailedEventAttributes: failure=Failure retry_state=RetryState \
    workflow_task_completed_event_id=i64 new_execution_run_id
WorkflowExecutionTimedOutEventAttributes: retry_state=RetryState new_execution_run_id
WorkflowExecutionContinuedAsNewEventAttributes: new_execution_run_id workflow_type=WorkflowType \
    task_queue=TaskQueue input=Payloads workflow_run_timeout=Duration \
    workflow_task_timeout=Duration workflow_task_completed_event_id=i64 \
    backoff_start_interval=Duration initiator=ContinueAsNewInitiator failure=Failure \
    last_completion_result=Payloads header=Header memo=Memo \
    search_attributes=SearchAttributes inherit_build_id=bool
WorkflowTaskScheduledEventAttributes: task_queue=TaskQueue start_to_close_timeout=Duration \
    attempt=i32
WorkflowTaskStartedEventAttributes: scheduled_event_id=i64 identity request_id \
    suggest_continue_as_new=bool suggest_continue_as_new_reasons=[]SuggestContinueAsNewReason \
    history_size_bytes=i64 worker_version=WorkerVersionStamp build_id_redirect_counter=i64
WorkflowTaskCompletedEventAttributes: scheduled_event_id=i64 started_event_id=i64 identity \
    binary_checksum worker_version=WorkerVersionStamp \
    sdk_metadata=WorkflowTaskCompletedMetadata metering_metadata=MeteringMetadata
WorkflowTaskTimedOutEventAttributes: scheduled_event_id=i64 started_event_id=i64 \
    timeout_type=TimeoutType
WorkflowTaskFailedEventAttributes: scheduled_event_id=i64 started_event_id=i64 \
    cause=WorkflowTaskFailedCause failure=Failure identity base_run_id new_run_id \
    fork_event_version=i64 binary_checksum worker_version=WorkerVersionStamp
ActivityTaskScheduledEventAttributes: activity_id activity_type=ActivityType \
    task_queue=TaskQueue header=Header input=Payloads schedule_to_close_timeout=Duration \
    schedule_to_start_timeout=Duration start_to_close_timeout=Duration \
    heartbeat_timeout=Duration workflow_task_completed_event_id=i64 retry_policy=RetryPolicy \
    use_workflow_build_id=bool priority=Priority
ActivityTaskStartedEventAttributes: scheduled_event_id=i64 identity request_id attempt=i32 \
    last_failure=Failure worker_version=WorkerVersionStamp build_id_redirect_counter=i64
ActivityTaskCompletedEventAttributes: result=Payloads scheduled_event_id=i64 \
    started_event_id=i64 identity worker_version=WorkerVersionStamp
ActivityTaskFailedEventAttributes: failure=Failure scheduled_event_id=i64 started_event_id=i64 \
    identity retry_state=RetryState worker_version=WorkerVersionStamp \
    cause=ActivityTaskFailedCause
ActivityTaskTimedOutEventAttributes: failure=Failure scheduled_event_id=i64 \
    started_event_id=i64 retry_state=RetryState
ActivityTaskCancelRequestedEventAttributes: scheduled_event_id=i64 \
    workflow_task_completed_event_id=i64
ActivityTaskCanceledEventAttributes: details=Payloads latest_cancel_requested_event_id=i64 \
    scheduled_event_id=i64 started_event_id=i64 identity worker_version=WorkerVersionStamp
TimerStartedEventAttributes: timer_id start_to_fire_timeout=Duration \
    workflow_task_completed_event_id=i64
TimerFiredEventAttributes: timer_id started_event_id=i64
TimerCanceledEventAttributes: timer_id started_event_id=i64 \
    workflow_task_completed_event_id=i64 identity
MarkerRecordedEventAttributes: marker_name details={}Payloads \
    workflow_task_completed_event_id=i64 header=Header failure=Failure
WorkflowExecutionSignaledEventAttributes: signal_name input=Payloads identity header=Header \
    skip_generate_workflow_task=bool external_workflow_execution=WorkflowExecution request_id
WorkflowExecutionTerminatedEventAttributes: reason details=Payloads identity
WorkflowExecutionCancelRequestedEventAttributes: cause external_initiated_event_id=i64 \
    external_workflow_execution=WorkflowExecution identity
WorkflowExecutionCanceledEventAttributes: workflow_task_completed_event_id=i64 details=Payloads
RequestCancelExternalWorkflowExecutionInitiatedEventAttributes: \
    workflow_task_completed_event_id=i64 namespace namespace_id \
    workflow_execution=WorkflowExecution control child_workflow_only=bool reason
RequestCancelExternalWorkflowExecutionFailedEventAttributes: \
    cause=CancelExternalWorkflowExecutionFailedCause workflow_task_completed_event_id=i64 \
    namespace namespace_id workflow_execution=WorkflowExecution initiated_event_id=i64 control
ExternalWorkflowExecutionCancelRequestedEventAttributes: initiated_event_id=i64 namespace \
    namespace_id workflow_execution=WorkflowExecution
StartChildWorkflowExecutionInitiatedEventAttributes: namespace namespace_id workflow_id \
    workflow_type=WorkflowType task_queue=TaskQueue input=Payloads \
    workflow_execution_timeout=Duration workflow_run_timeout=Duration \
    workflow_task_timeout=Duration parent_close_policy=ParentClosePolicy control \
    workflow_task_completed_event_id=i64 workflow_id_reuse_policy=WorkflowIdReusePolicy \
    retry_policy=RetryPolicy cron_schedule header=Header memo=Memo \
    search_attributes=SearchAttributes inherit_build_id=bool priority=Priority
StartChildWorkflowExecutionFailedEventAttributes: namespace namespace_id workflow_id \
    workflow_type=WorkflowType cause=StartChildWorkflowExecutionFailedCause control \
    initiated_event_id=i64 workflow_task_completed_event_id=i64
ChildWorkflowExecutionStartedEventAttributes: namespace namespace_id initiated_event_id=i64 \
    workflow_execution=WorkflowExecution workflow_type=WorkflowType header=Header
ChildWorkflowExecutionCompletedEventAttributes: result=Payloads namespace namespace_id \
    workflow_execution=WorkflowExecution workflow_type=WorkflowType initiated_event_id=i64 \
    started_event_id=i64
ChildWorkflowExecutionFailedEventAttributes: failure=Failure namespace namespace_id \
    workflow_execution=WorkflowExecution workflow_type=WorkflowType initiated_event_id=i64 \
    started_event_id=i64 retry_state=RetryState
ChildWorkflowExecutionCanceledEventAttributes: details=Payloads namespace namespace_id \
    workflow_execution=WorkflowExecution workflow_type=WorkflowType initiated_event_id=i64 \
    started_event_id=i64
ChildWorkflowExecutionTimedOutEventAttributes: namespace namespace_id \
    workflow_execution=WorkflowExecution workflow_type=WorkflowType initiated_event_id=i64 \
    started_event_id=i64 retry_state=RetryState
ChildWorkflowExecutionTerminatedEventAttributes: namespace namespace_id \
    workflow_execution=WorkflowExecution workflow_type=WorkflowType initiated_event_id=i64 \
    started_event_id=i64
SignalExternalWorkflowExecutionInitiatedEventAttributes: workflow_task_completed_event_id=i64 \
    namespace namespace_id workflow_execution=WorkflowExecution signal_name input=Payloads \
    control child_workflow_only=bool header=Header
SignalExternalWorkflowExecutionFailedEventAttributes: \
    cause=SignalExternalWorkflowExecutionFailedCause workflow_task_completed_event_id=i64 \
    namespace namespace_id workflow_execution=WorkflowExecution initiated_event_id=i64 control
ExternalWorkflowExecutionSignaledEventAttributes: initiated_event_id=i64 namespace \
    namespace_id workflow_execution=WorkflowExecution control
UpsertWorkflowSearchAttributesEventAttributes: workflow_task_completed_event_id=i64 \
    search_attributes=SearchAttributes
WorkflowPropertiesModifiedEventAttributes: workflow_task_completed_event_id=i64 \
    upserted_memo=Memo
WorkflowPropertiesModifiedExternallyEventAttributes: new_task_queue \
    new_workflow_task_timeout=Duration new_workflow_run_timeout=Duration \
    new_workflow_execution_timeout=Duration upserted_memo=Memo
ActivityPropertiesModifiedExternallyEventAttributes: scheduled_event_id=i64 \
    new_retry_policy=RetryPolicy
WorkflowExecutionUpdateAdmittedEventAttributes: request=Request origin=UpdateAdmittedEventOrigin
WorkflowExecutionUpdateAcceptedEventAttributes: protocol_instance_id accepted_request_message_id \
    accepted_request_sequencing_event_id=i64 accepted_request=Request
WorkflowExecutionUpdateRejectedEventAttributes: protocol_instance_id rejected_request_message_id \
    rejected_request_sequencing_event_id=i64 rejected_request=Request failure=Failure
WorkflowExecutionUpdateCompletedEventAttributes: meta=Meta accepted_event_id=i64 outcome=Outcome
WorkflowExecutionOptionsUpdatedEventAttributes: unset_versioning_override=bool \
    attached_request_id identity priority=Priority
"""

# Fields that are one of a group, as protobuf's ``WhichOneof`` names them.
ONEOFS: dict[str, dict[str, tuple[str, ...]]] = {
    "Failure": {"failure_info": (
        "application_failure_info", "timeout_failure_info", "canceled_failure_info",
        "terminated_failure_info", "server_failure_info", "reset_workflow_failure_info",
        "activity_failure_info", "child_workflow_execution_failure_info")},
    "Outcome": {"value": ("success", "failure")},
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    json_name: str
    kind: str
    repeated: bool = False
    mapped: bool = False


@dataclass(frozen=True, slots=True)
class MessageSpec:
    name: str
    fields: dict[str, FieldSpec]
    oneofs: dict[str, tuple[str, ...]]


def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _parse(table: str) -> dict[str, MessageSpec]:
    messages: dict[str, MessageSpec] = {}
    for line in table.replace("\\\n", " ").splitlines():
        if not line.strip():
            continue
        name, _, body = line.partition(":")
        fields: dict[str, FieldSpec] = {}
        for item in body.split():
            field, _, kind = item.partition("=")
            kind = kind or "str"
            repeated, mapped = kind.startswith("[]"), kind.startswith("{}")
            fields[field] = FieldSpec(field, _json_name(field), kind[2:] if repeated or mapped
                                      else kind, repeated, mapped)
        messages[name.strip()] = MessageSpec(name.strip(), fields, ONEOFS.get(name.strip(), {}))
    return messages


MESSAGES = _parse(_TABLE)


def attributes_message(event_type: str) -> MessageSpec | None:
    """The attributes message of an event type (``"TimerFired"``), if the table has it."""
    return MESSAGES.get(f"{event_type}EventAttributes")
