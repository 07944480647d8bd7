-- +goose Up
-- A certificate's document may sit in a batch object with others: its
-- byte range there (length 0: the whole object is the document).
ALTER TABLE certificates ADD COLUMN document_offset bigint NOT NULL DEFAULT 0;
ALTER TABLE certificates ADD COLUMN document_length bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE certificates DROP COLUMN document_length;
ALTER TABLE certificates DROP COLUMN document_offset;
