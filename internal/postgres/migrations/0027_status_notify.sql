-- +goose Up
-- Fresh status in memory (issue 15, docs/operations.md): a hub keeps the
-- records verification reads and drops one when its certificate changes.
-- The transaction that writes a state change's outbox event also notifies
-- every hub listening (NOTIFY is delivered at its commit, never before);
-- the index lets a hub read the changes it may have missed, by seq.
CREATE INDEX events_state_changes ON events (seq) WHERE kind IN ('revised', 'suspended', 'reinstated', 'revoked');

-- +goose StatementBegin
CREATE FUNCTION certhub_status_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('certhub_status', NEW.lineage);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER events_status_notify AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.kind IN ('revised', 'suspended', 'reinstated', 'revoked'))
    EXECUTE FUNCTION certhub_status_notify();

-- +goose Down
DROP TRIGGER events_status_notify ON events;
DROP FUNCTION certhub_status_notify();
DROP INDEX events_state_changes;
