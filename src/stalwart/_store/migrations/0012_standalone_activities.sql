-- Activities started from a client rather than by a workflow ("standalone" activities).
-- The record outlives the attempts: while the activity is pending it also has one row in
-- activity_tasks (run_id = this run_id, seq = 0), so workers claim, heartbeat, retry and time
-- it out exactly like a workflow's activity; the outcome lands here instead of in an inbox.
-- status is temporalio's ActivityExecutionStatus (1 running, 2 completed, 3 failed,
-- 4 canceled, 5 terminated, 6 timed out). options follow update_options (the task row has
-- them too, for the workers); original_options are kept for restore_original_options.
CREATE TABLE IF NOT EXISTS standalone_activities (
    run_id               TEXT PRIMARY KEY,
    activity_id          TEXT NOT NULL,
    activity_type        TEXT NOT NULL,
    task_queue           TEXT NOT NULL,
    status               INTEGER NOT NULL,
    schedule_time        DOUBLE PRECISION NOT NULL,
    execution_time       DOUBLE PRECISION NOT NULL,
    close_time           DOUBLE PRECISION,
    options              TEXT NOT NULL,
    original_options     TEXT NOT NULL,
    input                TEXT NOT NULL,
    search_attributes    TEXT NOT NULL,
    attempt              INTEGER NOT NULL DEFAULT 1,
    result               TEXT,
    failure              TEXT,
    last_failure         TEXT,
    heartbeat_details    TEXT,
    heartbeat_count      BIGINT NOT NULL DEFAULT 0,
    last_started_time    DOUBLE PRECISION,
    last_heartbeat_time  DOUBLE PRECISION,
    last_worker          TEXT,
    canceled_reason      TEXT
);
-- At most one running activity per activity id: the store, not the client, guarantees it.
CREATE UNIQUE INDEX IF NOT EXISTS standalone_activities_open_id
    ON standalone_activities (activity_id) WHERE status = 1;
CREATE INDEX IF NOT EXISTS standalone_activities_id
    ON standalone_activities (activity_id, schedule_time);
CREATE INDEX IF NOT EXISTS standalone_activities_schedule
    ON standalone_activities (schedule_time);
-- Heartbeats recorded for the activity across its attempts (describe's total_heartbeat_count),
-- counted by the update every heartbeat already makes.
ALTER TABLE activity_tasks {add_column} heartbeat_count BIGINT NOT NULL DEFAULT 0;
