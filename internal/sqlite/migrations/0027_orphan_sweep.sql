-- +goose Up
-- The orphan sweep (docs/operations.md) asks, a page of object keys at a
-- time, which keys a row still references. Without these indexes each page
-- would scan every certificate version; a bulk batch object is referenced
-- by many rows, so the indexes are not unique. authorities.seal_key needs
-- none: there is one row per authority.
CREATE INDEX certificates_document_key ON certificates (document_key);
CREATE INDEX federated_certificates_document_key ON federated_certificates (document_key);

-- +goose Down
DROP INDEX federated_certificates_document_key;
DROP INDEX certificates_document_key;
