-- +goose Up
-- The tamper-evident audit ledger: hash(n) = SHA-256(hash(n-1) || body(n)).
CREATE TABLE audit_log (
    seq    integer PRIMARY KEY,
    body   text NOT NULL,
    hash   text NOT NULL,
    -- the holder the entry concerns (keyed hash), for "who used my
    -- certificates"; not part of what the chain hashes (the body has it)
    holder text
);
CREATE INDEX audit_log_holder ON audit_log (holder, seq) WHERE holder IS NOT NULL;
-- The head: its update serializes appenders.
CREATE TABLE audit_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  integer NOT NULL,
    hash text NOT NULL
);
INSERT INTO audit_head VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
-- Signed checkpoints (C2SP signed notes).
CREATE TABLE audit_checkpoints (
    size integer PRIMARY KEY,
    root text NOT NULL,
    note text NOT NULL,
    at   text NOT NULL
);

-- +goose Down
DROP TABLE audit_checkpoints;
DROP TABLE audit_head;
DROP TABLE audit_log;
