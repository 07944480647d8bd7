-- +goose Up
-- Each certificate type's template (电子化模板): how its licences look, as
-- the JSON of certificates.Template; NULL until a department supplies one
-- (then the default layout applies). Background artwork (a PNG of at most
-- 2 MiB) is inline in the JSON, so one row update replaces everything a
-- licence looks like at once.
ALTER TABLE cert_types ADD COLUMN template text;
ALTER TABLE cert_types ADD COLUMN template_updated_at timestamptz;

-- +goose Down
ALTER TABLE cert_types DROP COLUMN template_updated_at;
ALTER TABLE cert_types DROP COLUMN template;
