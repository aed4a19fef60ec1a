-- One schema for both databases: the indexes each had that the other lacked, and an explicit
-- order for a schedule's running workflows.
DROP INDEX IF EXISTS executions_start_time;
CREATE INDEX IF NOT EXISTS executions_start ON executions (start_time);
DROP INDEX IF EXISTS executions_close_time;
CREATE INDEX IF NOT EXISTS executions_closed ON executions (close_time) WHERE status <> 1;
CREATE INDEX IF NOT EXISTS workflow_tasks_leased
    ON workflow_tasks (task_queue, lease_expires_at) WHERE lease_owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS workflow_tasks_affinity
    ON workflow_tasks (affinity) WHERE affinity IS NOT NULL;
CREATE INDEX IF NOT EXISTS queries_run ON queries (run_id);
ALTER TABLE schedule_runs ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
