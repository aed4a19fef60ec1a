"""The PostgreSQL schema (the SQLite schema's tables, PostgreSQL types) and its migration.

Times are seconds since the epoch as DOUBLE PRECISION, like the rest of the engine; JSON values
are stored as the TEXT the engine serialised, so the store never re-encodes them.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from ...exceptions import StoreError

SCHEMA_VERSION = 2
APPLICATION_MARKER = "stalwart"

# Every table the schema creates: a schema holding one of them without ``stalwart_meta`` belongs
# to another application, and Stalwart refuses to write into it.
TABLES = ("executions", "history", "inbox", "workflow_tasks", "activity_tasks", "timers",
          "workers", "updates", "queries", "search_attribute_values", "search_attribute_types",
          "schedules", "schedule_runs", "scheduler_lease", "activity_rate_limits")

MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE executions (
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
    parent_close_policy INTEGER,
    search_attributes   TEXT,
    memo                TEXT
);
CREATE INDEX executions_parent ON executions (parent_run_id) WHERE parent_run_id IS NOT NULL;
CREATE UNIQUE INDEX executions_open_workflow_id ON executions (workflow_id) WHERE status = 1;
CREATE INDEX executions_workflow_id ON executions (workflow_id, start_time);
CREATE INDEX executions_deadline ON executions (execution_deadline)
    WHERE status = 1 AND execution_deadline IS NOT NULL;
CREATE INDEX executions_status_start ON executions (status, start_time);
CREATE INDEX executions_start ON executions (start_time);
CREATE INDEX executions_closed ON executions (close_time) WHERE status <> 1;
CREATE INDEX executions_type_start ON executions (workflow_type, start_time);
CREATE INDEX executions_type_status_start ON executions (workflow_type, status, start_time);
CREATE INDEX executions_queue_start ON executions (task_queue, start_time);

-- One row per search attribute value (several for a KeywordList), so a list filter on any
-- attribute is an index lookup however many closed runs the store holds.
CREATE TABLE search_attribute_values (
    run_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    value_text  TEXT,
    value_num   DOUBLE PRECISION
);
CREATE INDEX search_attribute_text ON search_attribute_values (name, value_text);
CREATE INDEX search_attribute_num ON search_attribute_values (name, value_num);
CREATE INDEX search_attribute_run ON search_attribute_values (run_id);

-- The type of each custom search attribute, fixed by its first use.
CREATE TABLE search_attribute_types (
    name  TEXT PRIMARY KEY,
    type  TEXT NOT NULL
);

CREATE TABLE schedules (
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
CREATE INDEX schedules_next_action ON schedules (next_action_at)
    WHERE next_action_at IS NOT NULL;

CREATE TABLE schedule_runs (
    position      BIGSERIAL,
    schedule_id   TEXT NOT NULL,
    workflow_id   TEXT NOT NULL,
    first_run_id  TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    PRIMARY KEY (schedule_id, first_run_id)
);
CREATE INDEX schedule_runs_run ON schedule_runs (run_id);

CREATE TABLE scheduler_lease (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE history (
    run_id      TEXT NOT NULL,
    event_id    BIGINT NOT NULL,
    event_type  TEXT NOT NULL,
    timestamp   DOUBLE PRECISION NOT NULL,
    attributes  TEXT NOT NULL,
    PRIMARY KEY (run_id, event_id)
);

CREATE TABLE inbox (
    id          BIGSERIAL PRIMARY KEY,
    run_id      TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    timestamp   DOUBLE PRECISION NOT NULL,
    attributes  TEXT NOT NULL
);
CREATE INDEX inbox_run ON inbox (run_id, id);

CREATE TABLE workflow_tasks (
    run_id            TEXT PRIMARY KEY,
    task_queue        TEXT NOT NULL,
    visible_at        DOUBLE PRECISION NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  DOUBLE PRECISION,
    attempt           INTEGER NOT NULL DEFAULT 1,
    affinity          TEXT
);
CREATE INDEX workflow_tasks_ready ON workflow_tasks (task_queue, visible_at)
    WHERE lease_owner IS NULL;
CREATE INDEX workflow_tasks_leased ON workflow_tasks (task_queue, lease_expires_at)
    WHERE lease_owner IS NOT NULL;
CREATE INDEX workflow_tasks_lease ON workflow_tasks (lease_owner);
CREATE INDEX workflow_tasks_affinity ON workflow_tasks (affinity) WHERE affinity IS NOT NULL;

CREATE TABLE activity_tasks (
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
CREATE INDEX activity_tasks_ready ON activity_tasks (task_queue, visible_at)
    WHERE lease_owner IS NULL;
CREATE INDEX activity_tasks_deadline ON activity_tasks (deadline_at)
    WHERE deadline_at IS NOT NULL;
CREATE INDEX activity_tasks_lease ON activity_tasks (lease_owner);

CREATE TABLE timers (
    run_id   TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    fire_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX timers_fire_at ON timers (fire_at);

CREATE TABLE workers (
    worker_id     TEXT PRIMARY KEY,
    identity      TEXT NOT NULL,
    task_queue    TEXT NOT NULL,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    pid_start     TEXT NOT NULL,
    heartbeat_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE updates (
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
CREATE INDEX updates_pending ON updates (run_id) WHERE state = 0;

CREATE TABLE queries (
    id          BIGSERIAL PRIMARY KEY,
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
CREATE INDEX queries_pending ON queries (task_queue, state);
CREATE INDEX queries_run ON queries (run_id);
""",
    # Task-queue-wide activity rate limits: one token bucket per queue, shared by all workers.
    2: """
CREATE TABLE activity_rate_limits (
    task_queue  TEXT PRIMARY KEY,
    rate        DOUBLE PRECISION NOT NULL,
    tokens      DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);
""",
}


def migrate(conn: psycopg.Connection[Any], schema: str, where: str) -> None:
    """Create or upgrade the schema in one transaction.

    A transaction-scoped advisory lock serialises processes that connect at the same moment:
    the second one waits, then finds the schema current and does nothing.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                     (f"stalwart-migrate:{schema}",))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        tables = {str(row[0]) for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,))}
        version = 0
        if "stalwart_meta" in tables:
            row = conn.execute(
                "SELECT value FROM stalwart_meta WHERE key = 'schema_version'").fetchone()
            version = int(str(row[0])) if row else 0
        else:
            foreign = sorted(tables & set(TABLES))
            if foreign:
                raise StoreError(
                    f"{where}: schema {schema!r} already has tables named like Stalwart's "
                    f"({', '.join(foreign)}) but no stalwart_meta table, so they belong to "
                    "another application; give Stalwart a schema of its own with ?schema=name")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{where}: schema {schema!r} has Stalwart schema version {version}, newer than "
                f"this Stalwart understands ({SCHEMA_VERSION}); upgrade Stalwart")
        if version == 0:
            conn.execute("CREATE TABLE stalwart_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute(MIGRATIONS[target])
            conn.execute("INSERT INTO stalwart_meta VALUES ('schema_version', %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                         (str(target),))
        if version == 0:
            conn.execute("INSERT INTO stalwart_meta VALUES ('application', %s) "
                         "ON CONFLICT (key) DO NOTHING", (APPLICATION_MARKER,))
