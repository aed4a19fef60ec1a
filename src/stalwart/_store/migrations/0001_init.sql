-- Stalwart store schema, version 1. Written once for both databases: {serial_key} and
-- {without_rowid} are the words that differ (see Dialect.schema_words).
CREATE TABLE IF NOT EXISTS executions (
    run_id              TEXT PRIMARY KEY,
    workflow_id         TEXT NOT NULL,
    workflow_type       TEXT NOT NULL,
    task_queue          TEXT NOT NULL,
    status              INTEGER NOT NULL,
    start_time          DOUBLE PRECISION NOT NULL,
    close_time          DOUBLE PRECISION,
    first_run_id        TEXT NOT NULL,
    continued_run_id    TEXT,
    next_run_id         TEXT,
    next_event_id       BIGINT NOT NULL,
    execution_deadline  DOUBLE PRECISION,
    result              TEXT,
    failure             TEXT,
    parent_workflow_id  TEXT,
    parent_run_id       TEXT,
    parent_seq          BIGINT,
    parent_close_policy INTEGER
);
CREATE INDEX IF NOT EXISTS executions_parent
    ON executions (parent_run_id) WHERE parent_run_id IS NOT NULL;
-- At most one open run per workflow id: the store, not the client, guarantees it.
CREATE UNIQUE INDEX IF NOT EXISTS executions_open_workflow_id
    ON executions (workflow_id) WHERE status = 1;
CREATE INDEX IF NOT EXISTS executions_workflow_id ON executions (workflow_id, start_time);
CREATE INDEX IF NOT EXISTS executions_deadline
    ON executions (execution_deadline) WHERE status = 1 AND execution_deadline IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_status_start ON executions (status, start_time);

CREATE TABLE IF NOT EXISTS history (
    run_id      TEXT NOT NULL,
    event_id    BIGINT NOT NULL,
    event_type  TEXT NOT NULL,
    timestamp   DOUBLE PRECISION NOT NULL,
    attributes  TEXT NOT NULL,
    PRIMARY KEY (run_id, event_id)
){without_rowid};

-- Input events (activity results, timer firings, signals, cancel requests) waiting for the
-- run's next workflow task, which moves them into history in its own transaction.
CREATE TABLE IF NOT EXISTS inbox (
    id          {serial_key},
    run_id      TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    timestamp   DOUBLE PRECISION NOT NULL,
    attributes  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_run ON inbox (run_id, id);

-- At most one workflow task per run.
CREATE TABLE IF NOT EXISTS workflow_tasks (
    run_id            TEXT PRIMARY KEY,
    task_queue        TEXT NOT NULL,
    visible_at        DOUBLE PRECISION NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  DOUBLE PRECISION,
    attempt           INTEGER NOT NULL DEFAULT 1,
    affinity          TEXT
);
CREATE INDEX IF NOT EXISTS workflow_tasks_ready
    ON workflow_tasks (task_queue, visible_at) WHERE lease_owner IS NULL;
CREATE INDEX IF NOT EXISTS workflow_tasks_lease ON workflow_tasks (lease_owner);

CREATE TABLE IF NOT EXISTS activity_tasks (
    run_id                TEXT NOT NULL,
    seq                   BIGINT NOT NULL,
    task_queue            TEXT NOT NULL,
    workflow_id           TEXT NOT NULL,
    workflow_type         TEXT NOT NULL,
    activity_type         TEXT NOT NULL,
    activity_id           TEXT NOT NULL,
    input                 TEXT NOT NULL,
    options               TEXT NOT NULL,
    attempt               INTEGER NOT NULL,
    scheduled_at          DOUBLE PRECISION NOT NULL,
    attempt_scheduled_at  DOUBLE PRECISION NOT NULL,
    visible_at            DOUBLE PRECISION NOT NULL,
    lease_owner           TEXT,
    started_at            DOUBLE PRECISION,
    heartbeat_at          DOUBLE PRECISION,
    heartbeat_details     TEXT,
    deadline_at           DOUBLE PRECISION,
    last_failure          TEXT,
    cancel_requested      BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS activity_tasks_ready
    ON activity_tasks (task_queue, visible_at) WHERE lease_owner IS NULL;
CREATE INDEX IF NOT EXISTS activity_tasks_deadline
    ON activity_tasks (deadline_at) WHERE deadline_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS activity_tasks_lease ON activity_tasks (lease_owner);

CREATE TABLE IF NOT EXISTS timers (
    run_id   TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    fire_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS timers_fire_at ON timers (fire_at);

CREATE TABLE IF NOT EXISTS workers (
    worker_id     TEXT PRIMARY KEY,
    identity      TEXT NOT NULL,
    task_queue    TEXT NOT NULL,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    pid_start     TEXT NOT NULL,
    heartbeat_at  DOUBLE PRECISION NOT NULL
);

-- Update requests: validated by the next workflow task; a rejected one never reaches history.
CREATE TABLE IF NOT EXISTS updates (
    run_id      TEXT NOT NULL,
    update_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    input       TEXT NOT NULL,
    state       INTEGER NOT NULL,
    result      TEXT,
    failure     TEXT,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, update_id)
);
CREATE INDEX IF NOT EXISTS updates_pending ON updates (run_id) WHERE state = 0;

-- Queries waiting for a worker of the run's task queue to answer them.
CREATE TABLE IF NOT EXISTS queries (
    id          {serial_key},
    run_id      TEXT NOT NULL,
    task_queue  TEXT NOT NULL,
    name        TEXT NOT NULL,
    input       TEXT NOT NULL,
    state       INTEGER NOT NULL,
    claimed_by  TEXT,
    claimed_at  DOUBLE PRECISION,
    result      TEXT,
    failure     TEXT,
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS queries_pending ON queries (task_queue, state);
