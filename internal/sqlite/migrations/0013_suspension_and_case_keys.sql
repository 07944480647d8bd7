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

-- A resolved case is an office's case: the key adds the consumer, since two
-- offices may number their cases alike. avoidable counts the materials an
-- agreement would have spared (answered not_permitted). A primary key
-- cannot change in place either.
CREATE TABLE resolutions_new (
    item_code  text NOT NULL,
    consumer   text NOT NULL,
    case_id    text NOT NULL,
    department text NOT NULL,
    day        text NOT NULL,
    required   integer NOT NULL,
    avoided    integer NOT NULL,
    avoidable  integer NOT NULL DEFAULT 0,
    at         text NOT NULL,
    PRIMARY KEY (item_code, consumer, case_id)
);
INSERT INTO resolutions_new (item_code, consumer, case_id, department, day, required, avoided, at)
SELECT item_code, consumer, case_id, department, day, required, avoided, at FROM resolutions;
DROP TABLE resolutions;
ALTER TABLE resolutions_new RENAME TO resolutions;
CREATE INDEX resolutions_day ON resolutions (day);

-- +goose Down
-- Cases of different offices with the same number merge again: keep the
-- one with the most avoided.
CREATE TABLE resolutions_old (
    item_code  text NOT NULL,
    case_id    text NOT NULL,
    department text NOT NULL,
    consumer   text NOT NULL,
    day        text NOT NULL,
    required   integer NOT NULL,
    avoided    integer NOT NULL,
    at         text NOT NULL,
    PRIMARY KEY (item_code, case_id)
);
INSERT INTO resolutions_old (item_code, case_id, department, consumer, day, required, avoided, at)
SELECT item_code, case_id, department, consumer, day, required, avoided, at FROM resolutions r
WHERE NOT EXISTS (SELECT 1 FROM resolutions o WHERE o.item_code = r.item_code AND o.case_id = r.case_id AND o.consumer <> r.consumer
    AND (o.avoided > r.avoided OR (o.avoided = r.avoided AND o.consumer < r.consumer)));
DROP TABLE resolutions;
ALTER TABLE resolutions_old RENAME TO resolutions;
CREATE INDEX resolutions_day ON resolutions (day);

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
