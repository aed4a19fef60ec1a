-- Visibility: search attributes and memo, indexed for list filters.
ALTER TABLE executions ADD COLUMN search_attributes TEXT;
ALTER TABLE executions ADD COLUMN memo TEXT;
CREATE INDEX IF NOT EXISTS executions_type_start ON executions (workflow_type, start_time);
CREATE INDEX IF NOT EXISTS executions_type_status_start
    ON executions (workflow_type, status, start_time);
CREATE INDEX IF NOT EXISTS executions_queue_start ON executions (task_queue, start_time);
CREATE INDEX IF NOT EXISTS executions_close_time ON executions (close_time);
CREATE INDEX IF NOT EXISTS executions_start_time ON executions (start_time);

-- One row per attribute value (several for a KeywordList), so a filter on any attribute is an
-- index lookup however many closed workflows the store holds.
CREATE TABLE IF NOT EXISTS search_attribute_values (
    run_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    value_text  TEXT,
    value_num   DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS search_attribute_text ON search_attribute_values (name, value_text);
CREATE INDEX IF NOT EXISTS search_attribute_num ON search_attribute_values (name, value_num);
CREATE INDEX IF NOT EXISTS search_attribute_run ON search_attribute_values (run_id);

-- The type of each custom search attribute, fixed by its first use.
CREATE TABLE IF NOT EXISTS search_attribute_types (
    name  TEXT PRIMARY KEY,
    type  TEXT NOT NULL
);
