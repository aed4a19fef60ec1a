-- The agent layer's side tables: bytes that should not live in workflow history.
-- Large texts (tool outputs, long model answers) by their SHA-256 key.
CREATE TABLE IF NOT EXISTS agent_content (
    key          TEXT PRIMARY KEY,
    workflow_id  TEXT NOT NULL,
    data         {bytes} NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_content_workflow ON agent_content (workflow_id);

-- The latest partial text of each streaming model call, overwritten as tokens arrive.
CREATE TABLE IF NOT EXISTS agent_stream (
    workflow_id  TEXT NOT NULL,
    stream_id    TEXT NOT NULL,
    text         TEXT NOT NULL,
    done         BOOLEAN NOT NULL,
    version      BIGINT NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workflow_id, stream_id)
);
