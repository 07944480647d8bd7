-- +goose Up
-- A seal key marked compromised: documents it sealed at or after
-- compromised_from are not trusted (reason key_compromised); those sealed
-- before stay valid. NULL while the key is not marked.
ALTER TABLE seal_keys ADD COLUMN compromised_from text;
ALTER TABLE seal_keys ADD COLUMN compromise_reason text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE seal_keys DROP COLUMN compromise_reason;
ALTER TABLE seal_keys DROP COLUMN compromised_from;
