-- +goose Up
-- A webhook claim takes the first due deliveries of each active
-- subscription (sqlstore.ClaimDeliveries), each only if no earlier event
-- of its certificate is pending for the subscription. Both questions are
-- about pending deliveries only, so both indexes hold only those (a
-- delivered one leaves them):
--  - deliveries_pending walks a subscription's due deliveries in order,
--    instead of sorting every due delivery of every subscription;
--  - deliveries_pending_order answers "an earlier one pending?" with all
--    three columns as the index condition. It must be the cheaper choice
--    even when the planner believes the table empty, as it does while a
--    backfill fills it faster than autovacuum analyzes: with only the
--    full deliveries_order beside deliveries_pending, it probed by
--    subscription alone and read 6,000 rows for each candidate.
-- deliveries_due and deliveries_order served only the claim.
CREATE INDEX deliveries_pending ON deliveries (subscription_id, next_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_pending_order ON deliveries (subscription_id, lineage, event_seq) WHERE status = 'pending';
DROP INDEX deliveries_due;
DROP INDEX deliveries_order;

-- +goose Down
CREATE INDEX deliveries_order ON deliveries (subscription_id, lineage, event_seq);
CREATE INDEX deliveries_due ON deliveries (status, next_at);
DROP INDEX deliveries_pending_order;
DROP INDEX deliveries_pending;
