-- +goose Up
-- The hub's own seal CA: one root per family (an SM2 root certifies SM2
-- seal keys, a P-256 root the others). Its private key is sealed by a key
-- backend like a seal key's. The primary key makes creation idempotent when
-- several replicas start at once: the loser re-reads the winner's root.
CREATE TABLE seal_ca_roots (
    family      text PRIMARY KEY CHECK (family IN ('SM2', 'P-256')),
    backend     text NOT NULL,
    sealed      bytea NOT NULL,
    certificate bytea NOT NULL,
    created_at  timestamptz NOT NULL
);
-- A seal key's X.509 certificate (DER), the certificates that follow it in
-- x5c (DER, concatenated) and who issued it: 'hub' (the seal CA) or
-- 'external' (imported for a CSR the hub made); NULL/'' before it has one.
ALTER TABLE seal_keys ADD COLUMN certificate bytea;
ALTER TABLE seal_keys ADD COLUMN certificate_chain bytea;
ALTER TABLE seal_keys ADD COLUMN certificate_source text NOT NULL DEFAULT '' CHECK (certificate_source IN ('', 'hub', 'external'));

-- +goose Down
ALTER TABLE seal_keys DROP COLUMN certificate_source;
ALTER TABLE seal_keys DROP COLUMN certificate_chain;
ALTER TABLE seal_keys DROP COLUMN certificate;
DROP TABLE seal_ca_roots;
