-- Task priority (Temporal's Priority.priority_key): a lower key is claimed first; 3, the middle
-- of Temporal's default range 1-5, when none is given. A run's priority (NULL: none given,
-- neither to it nor to its parent) is what its workflow tasks and, unless they set their own,
-- its activities are claimed at.
ALTER TABLE executions {add_column} priority INTEGER;
ALTER TABLE workflow_tasks {add_column} priority INTEGER NOT NULL DEFAULT 3;
ALTER TABLE activity_tasks {add_column} priority INTEGER NOT NULL DEFAULT 3;
-- Claiming reads ready tasks of one queue in (priority, visible_at) order.
CREATE INDEX IF NOT EXISTS workflow_tasks_ready_by_priority
    ON workflow_tasks (task_queue, priority, visible_at) WHERE lease_owner IS NULL;
CREATE INDEX IF NOT EXISTS activity_tasks_ready_by_priority
    ON activity_tasks (task_queue, priority, visible_at) WHERE lease_owner IS NULL;
