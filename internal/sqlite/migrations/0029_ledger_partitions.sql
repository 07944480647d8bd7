-- +goose Up
-- The ledger over years (docs/operations.md): PostgreSQL partitions
-- audit_log by month (its migration 0029 says why by the entry's time).
-- SQLite keeps one table; an archived month's rows are deleted. at is the
-- entry's time as the appender writes it (fixed-width UTC text, like every
-- timestamp here), for finding a month's last entry.
ALTER TABLE audit_log ADD COLUMN at text;
-- Entries written before get it from their body, to the millisecond
-- (SQLite's strftime): enough to place them in their month.
UPDATE audit_log SET at = strftime('%Y-%m-%dT%H:%M:%f', json_extract(body, '$.at')) || '000Z';
-- Archived months: the entries first_seq..last_seq are in the object at
-- object_key (a bundle), whose SHA-256 is sha256; prev_hash is the hash of
-- the entry before first_seq, last_hash that of last_seq.
CREATE TABLE audit_archives (
    month       text PRIMARY KEY, -- YYYY-MM, UTC
    first_seq   integer NOT NULL,
    last_seq    integer NOT NULL UNIQUE,
    prev_hash   text NOT NULL,
    last_hash   text NOT NULL,
    object_key  text NOT NULL,
    sha256      text NOT NULL,
    archived_at text NOT NULL
);

-- +goose Down
DROP TABLE audit_archives;
ALTER TABLE audit_log DROP COLUMN at;
