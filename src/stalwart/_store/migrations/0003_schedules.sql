-- Schedules: the definition and the scheduler's state, as JSON the engine owns; the next
-- action time as a column, so finding what is due is an index lookup.
CREATE TABLE IF NOT EXISTS schedules (
    schedule_id        TEXT PRIMARY KEY,
    schedule           TEXT NOT NULL,
    info               TEXT NOT NULL,
    memo               TEXT,
    search_attributes  TEXT,
    created_at         DOUBLE PRECISION NOT NULL,
    updated_at         DOUBLE PRECISION,
    next_action_at     DOUBLE PRECISION,
    version            INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS schedules_next_action
    ON schedules (next_action_at) WHERE next_action_at IS NOT NULL;

-- Workflows a schedule started that were open when it last looked; a close among them is
-- what makes a buffered start due.
CREATE TABLE IF NOT EXISTS schedule_runs (
    schedule_id   TEXT NOT NULL,
    workflow_id   TEXT NOT NULL,
    first_run_id  TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    PRIMARY KEY (schedule_id, first_run_id)
);
CREATE INDEX IF NOT EXISTS schedule_runs_run ON schedule_runs (run_id);

-- At most one process runs the scheduler loop; the holder renews, another takes a lapsed one.
CREATE TABLE IF NOT EXISTS scheduler_lease (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
);
