-- +goose Up
-- Sharing agreements can be suspended (an office under investigation) and
-- resumed.
ALTER TABLE agreements DROP CONSTRAINT agreements_status_check;
ALTER TABLE agreements ADD CONSTRAINT agreements_status_check
    CHECK (status IN ('requested', 'approved', 'rejected', 'suspended', 'withdrawn'));

-- +goose Down
-- A suspended agreement must not come back active by a rollback: it ends.
UPDATE agreements SET status = 'withdrawn', reason = 'suspended when the database was migrated down: ' || reason
    WHERE status = 'suspended';
ALTER TABLE agreements DROP CONSTRAINT agreements_status_check;
ALTER TABLE agreements ADD CONSTRAINT agreements_status_check
    CHECK (status IN ('requested', 'approved', 'rejected', 'withdrawn'));
