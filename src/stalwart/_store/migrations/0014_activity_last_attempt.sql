-- What describe() reports of an activity waiting for its next attempt, as Temporal does:
-- when its last attempt ended and which worker ran it.
ALTER TABLE activity_tasks {add_column} last_attempt_at DOUBLE PRECISION;
ALTER TABLE activity_tasks {add_column} last_worker TEXT;
