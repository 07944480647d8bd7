-- +goose Up
-- What a holder is shown of the ledger (/api/v1/me/accesses, the wallet)
-- is found by audit_log.holder. The hub used to write that column beside
-- the body, outside what the chain hashes, so clearing or changing it hid
-- entries from their holder (or showed them to another) while the chain
-- still verified. The column is now derived by the database from the
-- hashed body and cannot be written: it is the value of the body's
-- "holder" key, which exchange.Body writes as ,"holder":"<index>" (every
-- '"' inside a string is escaped, so these bytes are only ever the key).
-- The same rule as PostgreSQL's migration, which cannot use JSON
-- functions. SQLite adds a stored generated column only to a new table,
-- so the table is rebuilt.
CREATE TABLE audit_log_0012 (
    seq    integer PRIMARY KEY,
    body   text NOT NULL,
    hash   text NOT NULL,
    holder text GENERATED ALWAYS AS (CASE WHEN instr(body, ',"holder":"') > 0 THEN nullif(substr(
        substr(body, instr(body, ',"holder":"') + 11), 1,
        instr(substr(body, instr(body, ',"holder":"') + 11), '"') - 1), '') END) STORED
);
INSERT INTO audit_log_0012 (seq, body, hash) SELECT seq, body, hash FROM audit_log ORDER BY seq;
DROP TABLE audit_log;
ALTER TABLE audit_log_0012 RENAME TO audit_log;
CREATE INDEX audit_log_holder ON audit_log (holder, seq) WHERE holder IS NOT NULL;

-- +goose Down
CREATE TABLE audit_log_0007 (
    seq    integer PRIMARY KEY,
    body   text NOT NULL,
    hash   text NOT NULL,
    holder text
);
INSERT INTO audit_log_0007 (seq, body, hash, holder) SELECT seq, body, hash, holder FROM audit_log ORDER BY seq;
DROP TABLE audit_log;
ALTER TABLE audit_log_0007 RENAME TO audit_log;
CREATE INDEX audit_log_holder ON audit_log (holder, seq) WHERE holder IS NOT NULL;
