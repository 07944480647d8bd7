-- +goose Up
-- An authority may hold one active seal key per algorithm (an SM2 key for
-- the national seal beside the ES256 one); one active key, its document
-- key, seals its JWS documents. Until now an authority had at most one
-- active key, which sealed its documents: every existing key keeps doing so.
ALTER TABLE seal_keys ADD COLUMN documents integer NOT NULL DEFAULT 1 CHECK (documents IN (0, 1));
UPDATE seal_keys SET documents = 0 WHERE status = 'retired';
DROP INDEX seal_keys_one_active;
CREATE UNIQUE INDEX seal_keys_one_active ON seal_keys (authority, algorithm) WHERE status = 'active';
CREATE UNIQUE INDEX seal_keys_one_document_key ON seal_keys (authority) WHERE status = 'active' AND documents = 1;

-- +goose Down
-- One active key per authority again: the keys beside the document key are
-- retired (they keep verifying what they signed).
UPDATE seal_keys SET status = 'retired', retired_at = now() WHERE status = 'active' AND documents = 0;
DROP INDEX seal_keys_one_document_key;
DROP INDEX seal_keys_one_active;
CREATE UNIQUE INDEX seal_keys_one_active ON seal_keys (authority) WHERE status = 'active';
ALTER TABLE seal_keys DROP COLUMN documents;
