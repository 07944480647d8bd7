-- +goose Up
-- The token of the last reconciliation scan that saw a source record.
ALTER TABLE certificate_origins ADD COLUMN seen_token text;

-- +goose Down
ALTER TABLE certificate_origins DROP COLUMN seen_token;
