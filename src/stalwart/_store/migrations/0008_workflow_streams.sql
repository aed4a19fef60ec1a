-- Workflow streams: durable, ordered, offset-addressed logs that workflows and activities
-- publish to and clients follow. One log per continue-as-new chain (keyed by the chain's
-- first run id), so a stream outlives continue-as-new; each item remembers the run that
-- published it (readers of one run filter on it; retention deletes it with that run).
CREATE TABLE IF NOT EXISTS workflow_stream_heads (
    chain_id     TEXT PRIMARY KEY,
    next_offset  BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS workflow_stream_items (
    chain_id      TEXT NOT NULL,
    item_offset   BIGINT NOT NULL,
    workflow_id   TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    topic         TEXT NOT NULL,
    data          TEXT,
    -- Who published: 'workflow' (producer_seq numbers its publishes within the run, so a
    -- replay that publishes again is recognised), 'activity' (activity_seq and attempt) or
    -- 'client'. kind is 'item', or 'attempt_failed' for the marker that voids an attempt's
    -- items; failed is set on the items of an attempt that later failed.
    producer      TEXT NOT NULL,
    producer_seq  BIGINT,
    activity_id   TEXT,
    activity_seq  BIGINT,
    attempt       INTEGER,
    kind          TEXT NOT NULL,
    failed        BOOLEAN NOT NULL DEFAULT FALSE,
    published_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (chain_id, item_offset)
){without_rowid};
CREATE INDEX IF NOT EXISTS workflow_stream_items_run
    ON workflow_stream_items (run_id, producer, producer_seq);
CREATE INDEX IF NOT EXISTS workflow_stream_items_attempt
    ON workflow_stream_items (run_id, activity_seq, attempt);
