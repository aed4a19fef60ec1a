-- Task-queue-wide activity rate limits: one token bucket per queue, shared by every worker.
CREATE TABLE IF NOT EXISTS activity_rate_limits (
    task_queue  TEXT PRIMARY KEY,
    rate        DOUBLE PRECISION NOT NULL,
    tokens      DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);
