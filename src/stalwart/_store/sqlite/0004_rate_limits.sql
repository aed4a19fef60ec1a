-- Task-queue-wide activity rate limits: one token bucket per queue, shared by every worker.
CREATE TABLE IF NOT EXISTS activity_rate_limits (
    task_queue  TEXT PRIMARY KEY,
    rate        REAL NOT NULL,
    tokens      REAL NOT NULL,
    updated_at  REAL NOT NULL
);
