-- +goose Up
-- Sharing agreements can be suspended (an office under investigation) and
-- resumed.
ALTER TABLE agreements DROP CONSTRAINT agreements_status_check;
ALTER TABLE agreements ADD CONSTRAINT agreements_status_check
    CHECK (status IN ('requested', 'approved', 'rejected', 'suspended', 'withdrawn'));

-- A resolved case is an office's case: the key adds the consumer, since two
-- offices may number their cases alike. avoidable counts the materials an
-- agreement would have spared (answered not_permitted).
ALTER TABLE resolutions DROP CONSTRAINT resolutions_pkey;
ALTER TABLE resolutions ADD PRIMARY KEY (item_code, consumer, case_id);
ALTER TABLE resolutions ADD COLUMN avoidable integer NOT NULL DEFAULT 0;

-- +goose Down
-- Cases of different offices with the same number merge again: keep the
-- one with the most avoided.
DELETE FROM resolutions r USING resolutions o
    WHERE r.item_code = o.item_code AND r.case_id = o.case_id AND r.consumer <> o.consumer
      AND (r.avoided < o.avoided OR (r.avoided = o.avoided AND r.consumer > o.consumer));
ALTER TABLE resolutions DROP COLUMN avoidable;
ALTER TABLE resolutions DROP CONSTRAINT resolutions_pkey;
ALTER TABLE resolutions ADD PRIMARY KEY (item_code, case_id);

-- A suspended agreement must not come back active by a rollback: it ends.
UPDATE agreements SET status = 'withdrawn', reason = 'suspended when the database was migrated down: ' || reason
    WHERE status = 'suspended';
ALTER TABLE agreements DROP CONSTRAINT agreements_status_check;
ALTER TABLE agreements ADD CONSTRAINT agreements_status_check
    CHECK (status IN ('requested', 'approved', 'rejected', 'withdrawn'));
