-- +goose Up
-- The definitions of the certificate types of the copies children push
-- here (issue 14, docs/federation.md): a child's push carries the
-- definition of each type its events name, so that this hub can write
-- agreements for them and show their fields. A type code names one type
-- federation-wide (GB/T 36904: the defining body's USCC and a sequence), so
-- one row per code; home_hub is the hub whose push wrote it last. A code
-- that is this hub's own type is never written here: its own types win.
CREATE TABLE federated_types (
    code       text PRIMARY KEY,
    home_hub   text NOT NULL,
    definition jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE federated_types;
