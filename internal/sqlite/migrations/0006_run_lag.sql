-- +goose Up
-- How far behind the source a run was: seconds between the newest change
-- in its last batch and the time that batch was applied.
ALTER TABLE connector_runs ADD COLUMN lag_seconds real NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE connector_runs DROP COLUMN lag_seconds;
