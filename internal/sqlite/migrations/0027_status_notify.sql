-- +goose Up
-- Fresh status in memory (issue 15, docs/operations.md): a hub keeps the
-- records verification reads and drops one when its certificate changes;
-- this index lets it read the state changes of the outbox by seq (an
-- embedded hub is one process: it drops its own changes at once, and this
-- catches those of a command run beside it).
CREATE INDEX events_state_changes ON events (seq) WHERE kind IN ('revised', 'suspended', 'reinstated', 'revoked');

-- +goose Down
DROP INDEX events_state_changes;
