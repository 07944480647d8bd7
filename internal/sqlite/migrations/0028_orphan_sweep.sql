-- +goose Up
-- The orphan sweep (docs/operations.md, Orphan objects) asks, a page of
-- object keys at a time, which keys a row still references. Without these
-- indexes each page would scan every certificate version; a bulk batch
-- object is referenced by many rows, so they are not unique.
-- authorities.seal_key needs none: there is one row per authority.
CREATE INDEX certificates_document_key ON certificates (document_key);
CREATE INDEX federated_certificates_document_key ON federated_certificates (document_key);
-- Leases of background jobs that are not event cursors (a row in
-- event_cursor would hold Prune back: it keeps every event after the
-- lowest cursor). One replica at a time holds a job; finished_at is when
-- the job last ran to its end, so replicas together keep to its interval.
CREATE TABLE job_leases (
    name        text PRIMARY KEY,
    lease_owner text NOT NULL DEFAULT '',
    lease_until text,
    finished_at text
);
INSERT INTO job_leases (name) VALUES ('orphan-sweep');

-- +goose Down
DROP TABLE job_leases;
DROP INDEX federated_certificates_document_key;
DROP INDEX certificates_document_key;
