-- +goose Up
-- events_certificate indexed (certificate_id, kind) for every event, so
-- that the expiry job could ask whether a certificate's expiry was already
-- announced. Only that question uses it, and only for 'expired' events: a
-- partial index answers it at the size of the expired events, not of the
-- whole outbox (182 bytes per certificate at 10 million), and a bulk load
-- no longer inserts into it at all.
CREATE INDEX events_expired ON events (certificate_id) WHERE kind = 'expired';
DROP INDEX events_certificate;

-- +goose Down
CREATE INDEX events_certificate ON events (certificate_id, kind);
DROP INDEX events_expired;
