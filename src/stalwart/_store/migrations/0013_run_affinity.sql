-- The worker that completed a run's last workflow task (its cache holds the run): a task made
-- for the run's new input (a timer fired, a signal, a result from another process) is offered
-- to it first, while it is registered.
ALTER TABLE executions {add_column} affinity TEXT;
