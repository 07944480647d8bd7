-- +goose Up
-- The generations of the hub key (issue 14, docs/federation.md, Rotating
-- the hub key). Each generation's key is derived from the master key; only
-- its state is kept here, so every replica holds the same keys. No rows
-- means generation 1, active (a hub that never rotated).
CREATE TABLE hub_keys (
    generation   integer PRIMARY KEY,
    state        text NOT NULL CHECK (state IN ('inactive', 'active', 'retired')),
    created_at   timestamptz NOT NULL,
    activated_at timestamptz,
    retired_at   timestamptz,
    vouched_at   timestamptz
);
-- At most one generation signs.
CREATE UNIQUE INDEX hub_keys_one_active ON hub_keys (state) WHERE state = 'active';

-- +goose Down
DROP TABLE hub_keys;
