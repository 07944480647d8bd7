-- +goose Up
-- Status lists (issue 13, docs/status-lists.md). A list hands out its
-- entries in the order of a keyed permutation of [0, size): counter is how
-- many it has handed out, seed the permutation's key. Entries are never
-- handed out twice, even when the version they were for is never written.
CREATE TABLE status_lists (
    number     integer PRIMARY KEY CHECK (number > 0),
    size       integer NOT NULL CHECK (size > 0),
    counter    integer NOT NULL DEFAULT 0 CHECK (counter >= 0 AND counter <= size),
    seed       bytea NOT NULL,
    created_at timestamptz NOT NULL
);
-- Each version's entry; NULL for versions from before status lists.
ALTER TABLE certificates ADD COLUMN status_list integer REFERENCES status_lists (number);
ALTER TABLE certificates ADD COLUMN status_index integer;
CREATE UNIQUE INDEX certificates_status_entry ON certificates (status_list, status_index);
-- Regenerating a list reads only its entries that are not valid.
CREATE INDEX certificates_status_set ON certificates (status_list) WHERE state <> 'valid';

-- +goose Down
DROP INDEX certificates_status_set;
DROP INDEX certificates_status_entry;
ALTER TABLE certificates DROP COLUMN status_index;
ALTER TABLE certificates DROP COLUMN status_list;
DROP TABLE status_lists;
