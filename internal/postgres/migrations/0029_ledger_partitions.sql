-- +goose Up
-- The ledger over years (docs/operations.md, "The audit ledger over
-- years"): audit_log is partitioned by month so that a month archived to
-- the object store (certhub audit archive) leaves the database by dropping
-- its partition, not by deleting millions of rows.
--
-- The key is the entry's time (at, the body's "at", written by the
-- appender), not seq: a month's bounds are known in advance, so the hub
-- can create next month's partition ahead of time, idempotently, on any
-- replica; seq boundaries exist only once the month has begun and would
-- race with the appenders that assign seq. PostgreSQL wants the key in
-- the primary key, hence (seq, at): seq stays unique because only the
-- appender holding the audit_head row assigns it, and verification
-- reports any gap or repeat. at cannot be a generated column (PostgreSQL
-- refuses those as partition keys), so the appender writes it beside the
-- body; the chain does not hash it and nothing trusts it but the archive,
-- which takes whole seq ranges anyway. Months are UTC months.
--
-- An entry whose month has no partition goes to audit_log_default: no
-- entry is ever refused. The hub creates the partitions of the current and
-- the next month at start and every hour (sqlstore EnsureAuditPartitions),
-- moving any rows of that month out of the default partition first.
ALTER TABLE audit_log RENAME TO audit_log_0028;
ALTER INDEX audit_log_holder RENAME TO audit_log_0028_holder;
ALTER TABLE audit_log_0028 RENAME CONSTRAINT audit_log_pkey TO audit_log_0028_pkey;
CREATE TABLE audit_log (
    seq    bigint NOT NULL,
    body   text NOT NULL,
    hash   text NOT NULL,
    -- derived from the hashed body, as migration 0012 explains
    holder text GENERATED ALWAYS AS (NULLIF(split_part(split_part(body, ',"holder":"', 2), '"', 1), '')) STORED,
    at     timestamptz NOT NULL,
    PRIMARY KEY (seq, at)
) PARTITION BY RANGE (at);
CREATE INDEX audit_log_holder ON audit_log (holder, seq) WHERE holder IS NOT NULL;
CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;
-- A partition for every month the ledger has entries in, and this month.
-- The body's first string is its time ({"seq":N,"at":"…"}).
-- +goose StatementBegin
DO $$
DECLARE m timestamp;
BEGIN
    FOR m IN SELECT date_trunc('month', (substring(body from '"at":"([^"]+)"')::timestamptz) AT TIME ZONE 'UTC') FROM audit_log_0028
             UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC')
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)',
            'audit_log_y' || to_char(m, 'YYYY"m"MM'),
            to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00',
            to_char(m + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
    END LOOP;
END $$;
-- +goose StatementEnd
INSERT INTO audit_log (seq, body, hash, at)
    SELECT seq, body, hash, substring(body from '"at":"([^"]+)"')::timestamptz FROM audit_log_0028;
DROP TABLE audit_log_0028;
-- Archived months: the entries first_seq..last_seq are in the object at
-- object_key (a bundle, docs/operations.md), whose SHA-256 is sha256.
-- prev_hash is the hash of the entry before first_seq, last_hash that of
-- last_seq: the live ledger continues from it.
CREATE TABLE audit_archives (
    month       text PRIMARY KEY, -- YYYY-MM, UTC
    first_seq   bigint NOT NULL,
    last_seq    bigint NOT NULL UNIQUE,
    prev_hash   text NOT NULL,
    last_hash   text NOT NULL,
    object_key  text NOT NULL,
    sha256      text NOT NULL,
    archived_at timestamptz NOT NULL
);

-- +goose Down
-- Entries already archived stay in the object store: going down does not
-- bring them back into the table.
CREATE TABLE audit_log_0029 (
    seq    bigint PRIMARY KEY,
    body   text NOT NULL,
    hash   text NOT NULL,
    holder text GENERATED ALWAYS AS (NULLIF(split_part(split_part(body, ',"holder":"', 2), '"', 1), '')) STORED
);
INSERT INTO audit_log_0029 (seq, body, hash) SELECT seq, body, hash FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_0029 RENAME TO audit_log;
ALTER TABLE audit_log RENAME CONSTRAINT audit_log_0029_pkey TO audit_log_pkey;
CREATE INDEX audit_log_holder ON audit_log (holder, seq) WHERE holder IS NOT NULL;
DROP TABLE audit_archives;
