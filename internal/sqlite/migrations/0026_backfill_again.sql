-- +goose Up
-- A second backfill (docs/federation.md, Aggregation upward). A parent
-- restored from an old backup asks its child to push again from where the
-- backup left it; the child can do so with events only if it still holds
-- every event after that point, which a gap in the seqs cannot tell (a
-- rolled-back transaction leaves one too). events_pruned holds the highest
-- seq Prune deleted (one row). Stores pruned before this table existed
-- start at their lowest cursor, the furthest Prune may have gone, so that
-- they never claim to hold an event they deleted.
CREATE TABLE events_pruned (
    seq bigint NOT NULL
);
INSERT INTO events_pruned (seq) SELECT COALESCE(MIN(seq), 0) FROM event_cursor;
-- Which backfill this is (1 the first; each start-over adds one), so that
-- a page of an earlier one never moves the place of a later one, and why
-- it started over.
ALTER TABLE aggregation_backfill ADD COLUMN round integer NOT NULL DEFAULT 1;
ALTER TABLE aggregation_backfill ADD COLUMN reason text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE aggregation_backfill DROP COLUMN reason;
ALTER TABLE aggregation_backfill DROP COLUMN round;
DROP TABLE events_pruned;
