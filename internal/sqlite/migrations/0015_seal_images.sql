-- +goose Up
-- Each authority's seal picture (印章图片): the object-store key of the PNG
-- (content-addressed, seals/<code>/<sha256>.png) and its SHA-256. Empty
-- until one is uploaded or drawn; the hub draws the default seal at
-- creation, and lazily for authorities created before this migration (a
-- migration cannot draw: the picture needs the hub's CJK font).
ALTER TABLE authorities ADD COLUMN seal_key text NOT NULL DEFAULT '';
ALTER TABLE authorities ADD COLUMN seal_sha256 text NOT NULL DEFAULT '';
ALTER TABLE authorities ADD COLUMN seal_updated_at text;

-- +goose Down
ALTER TABLE authorities DROP COLUMN seal_updated_at;
ALTER TABLE authorities DROP COLUMN seal_sha256;
ALTER TABLE authorities DROP COLUMN seal_key;
