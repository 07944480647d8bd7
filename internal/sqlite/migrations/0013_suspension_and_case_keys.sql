-- +goose Up
-- Sharing agreements can be suspended (an office under investigation) and
-- resumed. SQLite cannot change a CHECK constraint in place, so the table
-- is rebuilt; nothing refers to it.
CREATE TABLE agreements_new (
    id              text PRIMARY KEY,
    consumer_id     text NOT NULL REFERENCES consumers (id),
    grants          text NOT NULL,
    purposes        text NOT NULL,
    valid_from      text NOT NULL,
    valid_until     text NOT NULL,
    rate_per_minute integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'suspended', 'withdrawn')),
    requested_by    text NOT NULL,
    decided_by      text NOT NULL DEFAULT '',
    decided_at      text,
    reason          text NOT NULL DEFAULT '',
    created_at      text NOT NULL,
    updated_at      text NOT NULL
);
INSERT INTO agreements_new (id, consumer_id, grants, purposes, valid_from, valid_until, rate_per_minute, status, requested_by,
    decided_by, decided_at, reason, created_at, updated_at)
SELECT id, consumer_id, grants, purposes, valid_from, valid_until, rate_per_minute, status, requested_by,
    decided_by, decided_at, reason, created_at, updated_at FROM agreements;
DROP TABLE agreements;
ALTER TABLE agreements_new RENAME TO agreements;
CREATE INDEX agreements_consumer ON agreements (consumer_id, created_at);

-- +goose Down
-- A suspended agreement must not come back active by a rollback: it ends.
CREATE TABLE agreements_old (
    id              text PRIMARY KEY,
    consumer_id     text NOT NULL REFERENCES consumers (id),
    grants          text NOT NULL,
    purposes        text NOT NULL,
    valid_from      text NOT NULL,
    valid_until     text NOT NULL,
    rate_per_minute integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'withdrawn')),
    requested_by    text NOT NULL,
    decided_by      text NOT NULL DEFAULT '',
    decided_at      text,
    reason          text NOT NULL DEFAULT '',
    created_at      text NOT NULL,
    updated_at      text NOT NULL
);
INSERT INTO agreements_old (id, consumer_id, grants, purposes, valid_from, valid_until, rate_per_minute, status, requested_by,
    decided_by, decided_at, reason, created_at, updated_at)
SELECT id, consumer_id, grants, purposes, valid_from, valid_until, rate_per_minute,
    CASE status WHEN 'suspended' THEN 'withdrawn' ELSE status END, requested_by,
    decided_by, decided_at, CASE status WHEN 'suspended' THEN 'suspended when the database was migrated down: ' || reason ELSE reason END,
    created_at, updated_at FROM agreements;
DROP TABLE agreements;
ALTER TABLE agreements_old RENAME TO agreements;
CREATE INDEX agreements_consumer ON agreements (consumer_id, created_at);
