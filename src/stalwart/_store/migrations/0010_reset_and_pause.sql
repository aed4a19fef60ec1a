-- Steering: paused activities, activity resets waiting for a running attempt, and the links
-- between a run and the run a reset or fork made of it.
-- A paused activity is hidden from claiming (visible_at moved out of reach); the time it was
-- due, and who paused it and why, are kept to restore and to show.
ALTER TABLE activity_tasks {add_column} paused BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE activity_tasks {add_column} paused_visible_at DOUBLE PRECISION;
ALTER TABLE activity_tasks {add_column} pause_info TEXT;
-- A reset asked while an attempt runs takes effect when that attempt fails or times out.
ALTER TABLE activity_tasks {add_column} reset_requested BOOLEAN NOT NULL DEFAULT FALSE;
-- A run made by a reset or fork names the run it was made from (base_run_id); a run that a
-- reset replaced names its replacement (reset_run_id).
ALTER TABLE executions {add_column} base_run_id TEXT;
ALTER TABLE executions {add_column} reset_run_id TEXT;
