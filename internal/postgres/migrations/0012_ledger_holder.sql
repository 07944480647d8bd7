-- +goose Up
-- What a holder is shown of the ledger (/api/v1/me/accesses, the wallet)
-- is found by audit_log.holder. The hub used to write that column beside
-- the body, outside what the chain hashes, so clearing or changing it hid
-- entries from their holder (or showed them to another) while the chain
-- still verified. The column is now derived by the database from the
-- hashed body and cannot be written: it is the value of the body's
-- "holder" key, which exchange.Body writes as ,"holder":"<index>" (every
-- '"' inside a string is escaped, so these bytes are only ever the key).
-- Not the JSON operators: PostgreSQL's refuse a body with \u0000 anywhere
-- in it, and a refused entry would fail its whole group-committed batch.
-- `certhub audit verify` checks the column against the body as well, for
-- a database whose column definition was changed back.
ALTER TABLE audit_log DROP COLUMN holder;
ALTER TABLE audit_log ADD COLUMN holder text
    GENERATED ALWAYS AS (NULLIF(split_part(split_part(body, ',"holder":"', 2), '"', 1), '')) STORED;
CREATE INDEX audit_log_holder ON audit_log (holder, seq) WHERE holder IS NOT NULL;

-- +goose Down
ALTER TABLE audit_log DROP COLUMN holder;
ALTER TABLE audit_log ADD COLUMN holder text;
UPDATE audit_log SET holder = NULLIF(split_part(split_part(body, ',"holder":"', 2), '"', 1), '');
CREATE INDEX audit_log_holder ON audit_log (holder, seq) WHERE holder IS NOT NULL;
